// Renders a deterministic set of facesjs cartoon faces for training and evaluation.
// Usage: node render_faces.mjs OUT_PREFIX COUNT FIRST_SEED SIZE
// Writes OUT_PREFIX.rgb (COUNT x SIZE x SIZE x 3 uint8, row-major) and OUT_PREFIX.jsonl
// (one face object per line, with the gender the generator was asked for).
import fs from "node:fs";
import { generate, faceToSvgString } from "facesjs";
import { Resvg } from "@resvg/resvg-js";

const [outPrefix, countArg, firstSeedArg, sizeArg] = process.argv.slice(2);
const count = Number(countArg);
const firstSeed = Number(firstSeedArg);
const size = Number(sizeArg);

// facesjs draws from Math.random; replacing it with a seeded generator makes each face a function of its seed.
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rgbOut = fs.openSync(`${outPrefix}.rgb`, "w");
const jsonOut = fs.openSync(`${outPrefix}.jsonl`, "w");
for (let i = 0; i < count; i++) {
  const seed = firstSeed + i;
  Math.random = mulberry32(seed * 2654435761);
  const gender = Math.random() < 0.5 ? "male" : "female";
  const face = generate(undefined, { gender });
  // viewBox 0 70 400 400: a centred square crop around the head (the SVG is 400x600).
  const svg = faceToSvgString(face).replace(/viewBox="[^"]*"/, 'viewBox="0 70 400 400"');
  const png = new Resvg(svg, { fitTo: { mode: "width", value: size }, background: "white" }).render();
  const rgba = png.pixels;
  const rgb = Buffer.alloc(size * size * 3);
  for (let p = 0, q = 0; p < rgba.length; p += 4, q += 3) {
    rgb[q] = rgba[p];
    rgb[q + 1] = rgba[p + 1];
    rgb[q + 2] = rgba[p + 2];
  }
  fs.writeSync(rgbOut, rgb);
  fs.writeSync(jsonOut, JSON.stringify({ seed, gender, face }) + "\n");
}
fs.closeSync(rgbOut);
fs.closeSync(jsonOut);
