"""Unit tests of the face models (parameter prior + renderer) and their pipeline, on the shipped checkpoints."""

import copy
import math
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from gen_app.faces import sprites as sprites_module
from gen_app.faces.attributes import ATTRIBUTES, attribute_class, face_labels
from gen_app.faces.params import CATEGORICAL_FIELDS, CONTINUOUS_BINS, CONTINUOUS_FIELDS, FaceCodec
from gen_app.faces.pipeline import PARTS, FacePipeline
from gen_app.faces.prior import FacePrior, _FieldDecoder, _inverse_cdf
from gen_app.faces.renderer import FaceRenderer
from gen_app.faces.sprites import PartSprites
from gen_app.images import read_png_parameters, save_png
from gen_app.limits import InvalidInput
from gen_app.loading import CHECKPOINTS
from gen_app.seeding import MAX_SEED


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def field_values(faces, field: str) -> list:
    """A field's value in each generated face's facesjs parameters."""
    values = []
    for record in faces.faces:
        if field == "gender":
            values.append(record["gender"])
        else:
            part, key = field.split(".")
            values.append(record["face"][part][key])
    return values


def test_same_seed_same_face(face_pipeline):
    first = face_pipeline.generate(seed=123, count=3, temperature=0.8)
    again = face_pipeline.generate(seed=123, count=3, temperature=0.8)
    for a, b in zip(first.images, again.images, strict=True):
        assert np.array_equal(pixels(a), pixels(b))
    assert first.seeds == [123, 124, 125] and first.faces == again.faces


def test_face_does_not_depend_on_batch_position(face_pipeline):
    batch = face_pipeline.generate(seed=500, count=4)
    alone = face_pipeline.generate(seed=502, count=1)
    assert batch.faces[2] == alone.faces[0]
    assert np.abs(pixels(batch.images[2]) - pixels(alone.images[0])).max() <= 2  # conv rounding only


def test_faces_are_varied(face_pipeline):
    # Each seed draws its own parameters: 16 seeds give 16 different faces (no collapse onto a few).
    faces = face_pipeline.generate(seed=1000, count=16)
    assert len({str(f) for f in faces.faces}) == 16
    arrays = np.stack([pixels(image.resize((64, 64))) for image in faces.images]).astype(np.float32)
    pairwise = np.abs(arrays[:, None] - arrays[None, :]).mean(axis=(2, 3, 4))
    assert np.median(pairwise[np.triu_indices(16, 1)]) > 8


def test_temperature_zero_gives_the_most_likely_face(face_pipeline):
    faces = face_pipeline.generate(seed=0, count=3, temperature=0.0)
    assert faces.faces[0] == faces.faces[1] == faces.faces[2]


def test_faces_are_shown_at_twice_the_size_pixel_for_pixel(face_pipeline):
    image = face_pipeline.generate(seed=9, count=1).images[0]
    assert image.size == (256, 256)
    array = pixels(image)
    assert np.array_equal(array[0::2, 0::2], array[1::2, 1::2])  # nearest-neighbour: no blur


def test_attributes_and_parts_are_honoured(face_pipeline):
    faces = face_pipeline.generate(
        seed=3, count=8, attributes={"hat/accessory": "accessory", "gender": "male"}, parts={"hair colour": "#272421"}
    )
    assert all(v != "none" for v in field_values(faces, "accessories.id"))
    assert set(field_values(faces, "gender")) == {"male"}
    assert set(field_values(faces, "hair.color")) == {"#272421"}
    assert len(set(field_values(faces, "hair.id"))) > 1  # what is left free still varies
    assert faces.params["choices"] == {"hat/accessory": "accessory", "gender": "male", "hair colour": "#272421"}


def test_a_choice_conditions_the_fields_drawn_before_it(face_pipeline):
    # facesjs gives facial hair to men only, and gender is drawn first: fixing facial hair must not pair a beard
    # with a female face (a mask alone did, for half the faces).
    faces = face_pipeline.generate(seed=500, count=16, attributes={"facial hair": "facial hair"})
    assert set(field_values(faces, "gender")) == {"male"}
    assert all(value != "none" for value in field_values(faces, "facialHair.id"))
    again = face_pipeline.generate(seed=507, count=1, attributes={"facial hair": "facial hair"})
    assert again.faces[0] == faces.faces[7]  # still a face per seed, whatever the batch


def test_a_choice_that_no_proposal_fits_falls_back_to_the_mask(face_pipeline):
    prior = face_pipeline.prior
    field = CATEGORICAL_FIELDS.index("facialHair.id")
    values = face_pipeline.codec.values_of("facialHair.id")
    only = torch.tensor([v == "goatee-thin" for v in values])  # a rare style: one proposal at temperature 0 misses
    tokens = prior.sample([torch.Generator().manual_seed(3)], temperature=0.0, allowed={field: only}, proposals=1)
    assert values[int(tokens[0, field])] == "goatee-thin"


def test_the_shipped_renderer_offers_every_attribute_and_part(face_pipeline):
    # Glasses were withheld until the renderer drew them (the glasses fine-tune; the faces bench, model card).
    assert face_pipeline.undrawn == {}
    assert set(face_pipeline.attributes) == set(ATTRIBUTES) and set(face_pipeline.parts) == set(PARTS)
    faces = face_pipeline.generate(seed=1, count=4, attributes={"glasses": "glasses"})
    assert all(value != "none" for value in field_values(faces, "glasses.id"))


def test_what_a_renderer_cannot_draw_is_fixed_and_not_offered(face_pipeline):
    # A renderer whose config lists a field under `undrawn` (as the shipped one did with glasses.id): the pipeline
    # fixes the field, offers it neither as an attribute nor as a part, and refuses it with a clear message.
    renderer = copy.copy(face_pipeline.renderer)  # the same weights; the shipped pipeline is left as it is
    renderer.undrawn = {"glasses.id": "none"}
    pipe = FacePipeline(renderer, face_pipeline.prior, face_pipeline.origins, face_pipeline.folders)
    assert "glasses" not in pipe.attributes and "glasses style" not in pipe.parts
    faces = pipe.generate(seed=0, count=16)
    assert set(field_values(faces, "glasses.id")) == {"none"}  # the PNG's parameters say what is drawn
    more = pipe.variations(seed=0, count=6, amount=1.0)
    assert set(field_values(more, "glasses.id")) == {"none"}
    with pytest.raises(InvalidInput, match="cannot draw the glasses attribute yet"):
        pipe.generate(seed=1, attributes={"glasses": "glasses"})
    with pytest.raises(InvalidInput, match="cannot draw the glasses style part yet"):
        pipe.generate(seed=1, parts={"glasses style": "glasses1-primary"})


def test_values_a_renderer_cannot_draw_are_never_drawn_nor_offered(face_pipeline):
    # A renderer whose config lists values under `undrawn_values` (headbands and eye-black, which the stage-3
    # renderer did not draw): the prior never picks them, the parts do not offer them, and "accessory" means the rest.
    renderer = copy.copy(face_pipeline.renderer)
    renderer.undrawn_values = {"accessories.id": ["eye-black", "headband", "headband-high"]}
    pipe = FacePipeline(renderer, face_pipeline.prior, face_pipeline.origins, face_pipeline.folders)
    hidden = set(renderer.undrawn_values["accessories.id"])
    assert not hidden & set(pipe.parts["headwear"]) and "hat" in pipe.parts["headwear"]
    faces = pipe.generate(seed=0, count=16, attributes={"hat/accessory": "accessory"})
    assert not hidden & set(field_values(faces, "accessories.id"))
    more = pipe.variations(seed=0, count=8, amount=1.0, attributes={"hat/accessory": "accessory"})
    assert not hidden & set(field_values(more, "accessories.id"))
    with pytest.raises(InvalidInput, match="headwear must be random or one of the model's"):
        pipe.generate(seed=1, parts={"headwear": "headband"})
    renderer.undrawn_values = {"accessories.id": ["no-such-hat"]}
    with pytest.raises(ValueError, match="not in its vocabulary"):
        FacePipeline(renderer, face_pipeline.prior)


@pytest.mark.parametrize("name", list(ATTRIBUTES))
def test_every_attribute_class_can_be_fixed(face_pipeline, name):
    for wanted in ATTRIBUTES[name]:
        faces = face_pipeline.generate(seed=11, count=4, attributes={name: wanted})
        labels = [face_labels(record)[list(ATTRIBUTES).index(name)] for record in faces.faces]
        assert labels == [ATTRIBUTES[name].index(wanted)] * 4


def test_attribute_fields_decide_the_attribute():
    assert attribute_class("hair style", "female3") == ATTRIBUTES["hair style"].index("long")
    assert attribute_class("glasses", "none") == 0 and attribute_class("glasses", "glasses1-primary") == 1


def test_hair_style_names_the_hair_that_shows(face_pipeline):
    """A short cut with long hair behind the head (hairBg, which also shows below a cap) looks long: labelled long;
    under a cap it does not show: labelled other. A face drawn for "short" has neither."""
    record = face_pipeline.generate(seed=3).faces[0]
    hair_style = list(ATTRIBUTES).index("hair style")
    record["face"]["hair"]["id"] = "short2"
    record["face"]["hairBg"]["id"] = "none"
    assert face_labels(record)[hair_style] == ATTRIBUTES["hair style"].index("short")
    record["face"]["accessories"]["id"] = "headband"
    assert face_labels(record)[hair_style] == ATTRIBUTES["hair style"].index("short")
    record["face"]["accessories"]["id"] = "hat2"  # the cap hides the cut
    assert face_labels(record)[hair_style] == ATTRIBUTES["hair style"].index("other")
    record["face"]["hairBg"]["id"] = "female2"  # the long hair behind shows below the cap
    assert face_labels(record)[hair_style] == ATTRIBUTES["hair style"].index("long")
    short = face_pipeline.generate(seed=5, count=16, attributes={"hair style": "short"}).faces
    assert {face["face"]["hairBg"]["id"] for face in short} == {"none"}
    assert not {face["face"]["accessories"]["id"] for face in short} & {"hat", "hat2", "hat3", "santa-hat"}


def test_conflicting_choices_are_explained(face_pipeline):
    with pytest.raises(InvalidInput, match="No face fits"):
        face_pipeline.generate(seed=1, attributes={"hat/accessory": "none"}, parts={"headwear": "hat"})


@pytest.mark.parametrize(
    "attributes, parts, message",
    [
        ({"eyes": "blue"}, None, "Unknown attribute"),
        ({"facial hair": "monocle"}, None, "facial hair must be one of"),
        (None, {"ears": "big"}, "Unknown part"),
        (None, {"hair": "mohawk-xl"}, "hair must be random or one of"),
    ],
)
def test_bad_choices_raise_clear_errors(face_pipeline, attributes, parts, message):
    with pytest.raises(InvalidInput, match=message):
        face_pipeline.generate(seed=1, attributes=attributes, parts=parts)


def test_parts_list_the_models_values(face_pipeline):
    assert set(face_pipeline.parts) == set(PARTS)
    assert "short" in face_pipeline.parts["hair"] and "none" in face_pipeline.parts["headwear"]


def test_variations_stay_close_to_their_face(face_pipeline):
    base = face_pipeline.generate(seed=77, count=1)
    more = face_pipeline.variations(seed=77, count=6, amount=0.2)
    assert len(more.images) == 6 and more.faces[0] == base.faces[0]
    assert np.abs(pixels(more.images[0]) - pixels(base.images[0])).max() <= 2
    others = face_pipeline.generate(seed=1000, count=5)

    def distance(a, b) -> float:
        return float(np.abs(pixels(a) - pixels(b)).mean())

    near = np.mean([distance(more.images[0], image) for image in more.images[1:]])
    far = np.mean([distance(more.images[0], image) for image in others.images])
    assert 0 < near < far
    assert all(face != more.faces[0] for face in more.faces[1:])


def test_variations_keep_fixed_choices(face_pipeline):
    more = face_pipeline.variations(seed=5, count=8, amount=1.0, attributes={"facial hair": "facial hair"})
    assert all(v != "none" for v in field_values(more, "facialHair.id"))


def test_morph_endpoints_are_the_seeds_faces(face_pipeline):
    morph = face_pipeline.morph(seed_a=11, seed_b=99, frames=6)
    assert len(morph.images) == 6
    start = face_pipeline.generate(seed=11, count=1).images[0]
    end = face_pipeline.generate(seed=99, count=1).images[0]
    assert np.abs(pixels(morph.images[0]) - pixels(start)).max() <= 2
    assert np.abs(pixels(morph.images[-1]) - pixels(end)).max() <= 2
    jump = np.abs(pixels(start) - pixels(end)).mean()
    steps = [np.abs(pixels(a) - pixels(b)).mean() for a, b in zip(morph.images, morph.images[1:], strict=False)]
    assert max(steps) < jump


def test_seed_wraps_at_the_top_of_the_range(face_pipeline):
    assert face_pipeline.generate(seed=MAX_SEED, count=2).seeds == [MAX_SEED, 0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"seed": -1}, "Seed"),
        ({"seed": MAX_SEED + 1}, "Seed"),
        ({"seed": 1.5}, "whole number"),
        ({"seed": None}, "Seed"),
        ({"seed": 1, "count": 0}, "Number of faces"),
        ({"seed": 1, "count": 1000}, "Number of faces"),
        ({"seed": 1, "temperature": float("nan")}, "finite"),
        ({"seed": 1, "temperature": float("inf")}, "finite"),
        ({"seed": 1, "temperature": "abc"}, "Temperature"),
        ({"seed": 1, "temperature": 5}, "Temperature"),
    ],
)
def test_bad_inputs_raise_clear_errors(face_pipeline, kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        face_pipeline.generate(**kwargs)


def test_morph_and_variations_reject_bad_values(face_pipeline):
    with pytest.raises(InvalidInput, match="Frames"):
        face_pipeline.morph(1, 2, frames=1000)
    with pytest.raises(InvalidInput, match="Variation"):
        face_pipeline.variations(1, 4, amount=2.0)


def test_png_carries_parameters(face_pipeline, tmp_path):
    faces = face_pipeline.generate(seed=5, count=1, temperature=0.7)
    path = save_png(faces.images[0], tmp_path / "face.png", {**faces.params, "face": faces.faces[0]})
    params = read_png_parameters(path)
    assert params["seed"] == 5 and params["temperature"] == 0.7 and params["model"] == "gen_app/faces"
    assert params["face"]["face"]["hair"]["id"] == faces.faces[0]["face"]["hair"]["id"]


def test_codec_round_trip(face_pipeline):
    codec = face_pipeline.codec
    for record in face_pipeline.generate(seed=40, count=4).faces:
        categorical, continuous = codec.encode(record)
        again = codec.decode(categorical, continuous)
        assert again == record
        tokens = codec.tokens(categorical, continuous)
        assert len(tokens) == len(codec.token_sizes)
        assert all(0 <= t < size for t, size in zip(tokens, codec.token_sizes, strict=True))
    assert FaceCodec.bin_value(0, 0.0) == -1 and FaceCodec.bin_value(CONTINUOUS_BINS - 1, 1.0) == 1


def test_prior_and_renderer_must_share_a_vocabulary(face_pipeline):
    other = FacePrior([2] * len(face_pipeline.codec.token_sizes), hidden=16, n_embd=8)
    with pytest.raises(ValueError, match="vocabularies"):
        FacePipeline(face_pipeline.renderer, other)


def test_the_sampling_decoder_computes_the_models_logits(face_pipeline):
    """The lean field-by-field decoder that sampling uses (numpy) gives, at each field, the logits of the model's
    forward (PyTorch), up to float32 rounding of two BLAS libraries over 30 steps."""
    prior = face_pipeline.prior
    generator = torch.Generator().manual_seed(0)
    tokens = torch.stack([torch.randint(size, (5,), generator=generator) for size in prior.token_sizes], dim=1)
    ids = tokens + prior.offsets
    with torch.no_grad():
        full = prior(torch.cat([torch.full_like(ids[:, :1], prior.start_token), ids[:, :-1]], dim=1))
    decoder = _FieldDecoder(prior, len(tokens))
    for t, size in enumerate(prior.token_sizes):
        start = int(prior.offsets[t])
        expected = full[:, t, start : start + size]
        got = torch.from_numpy(decoder.logits(t, tokens[:, t - 1].numpy() if t else None))
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_inverse_cdf_never_draws_a_value_of_probability_zero():
    probs = np.broadcast_to(np.array([[0.0, 0.3, 0.0, 0.7, 0.0, 0.0]]), (5, 6))
    uniform = np.array([0.0, 0.29, 0.31, 0.99, 1 - 2**-53])
    assert _inverse_cdf(probs, uniform).tolist() == [1, 1, 3, 3, 3]
    assert _inverse_cdf(probs[:1], np.ones(1)).tolist() == [3]  # rounding up to the total
    assert _inverse_cdf(probs[:1] * 1e-300, np.ones(1)).tolist() == [3]  # weights known only up to a scale


def test_prior_samples_only_allowed_values(face_pipeline):
    prior = face_pipeline.prior
    field = CATEGORICAL_FIELDS.index("hair.id")
    allowed = torch.zeros(prior.token_sizes[field], dtype=torch.bool)
    allowed[[1, 3]] = True
    tokens = prior.sample([torch.Generator().manual_seed(s) for s in range(20)], 1.0, {field: allowed})
    assert set(tokens[:, field].tolist()) <= {1, 3}


@pytest.mark.parametrize(
    "folder, cls, tensor", [("faces", FaceRenderer, "to_rgb.0.weight"), ("faces-prior", FacePrior, "head.weight")]
)
def test_strict_loading_rejects_a_missing_tensor(tmp_path, folder, cls, tensor):
    broken = tmp_path / folder
    shutil.copytree(CHECKPOINTS / folder, broken)
    weights = load_file(broken / "model.safetensors")
    weights.pop(tensor)
    save_file(weights, broken / "model.safetensors")
    with pytest.raises(RuntimeError, match=tensor.replace(".", r"\.")):
        cls.from_pretrained(broken, strict=True)


def test_reduced_precision_draws_the_same_faces(face_pipeline):
    """The pipeline renders in bf16 where the hardware has it (faster); the faces match float32's to >= 40 dB."""
    full = FacePipeline(face_pipeline.renderer, face_pipeline.prior, precision=torch.float32)
    reduced = FacePipeline(face_pipeline.renderer, face_pipeline.prior, precision=torch.bfloat16)
    a, b = full.sample(list(range(8))), reduced.sample(list(range(8)))
    mse = ((a - b) / 2).pow(2).mean()
    assert 10 * torch.log10(1 / mse) > 40


def test_values_the_renderer_does_not_draw_cost_no_rejection(face_pipeline):
    """The renderer's undrawn values are a plain mask on every draw (the prior's support), not a choice drawn by
    rejection: an unconstrained face is drawn in one pass, and no choice is recorded."""
    assert face_pipeline.support and face_pipeline._allowed(None, None) == {}
    faces = face_pipeline.generate(seed=4, count=16)
    for f, values in face_pipeline.undrawn_values.items():
        assert not values & set(field_values(faces, f))
    assert faces.params["choices"] == {}


def test_part_maps_join_at_zero_so_a_fine_tune_starts_from_the_same_faces(face_pipeline):
    """A renderer given part maps (a linear path from the parameters to its 16x16 features) draws what the weights
    it starts from drew, until training gives the path weight; then a part changes the picture through it."""
    renderer = face_pipeline.renderer
    config = {"categorical_values": renderer.categorical_values, "continuous_ranges": renderer.continuous_ranges}
    config |= {"channels": [32, 16, 16, 8], "convs_per_block": [1, 1, 1, 1], "w_dim": 32}
    torch.manual_seed(0)
    plain = FaceRenderer(**config, part_map_channels=0).eval()
    mapped = FaceRenderer(**config, part_map_channels=4, part_map_size=16).eval()
    assert mapped.load_state_dict(plain.state_dict(), strict=False).missing_keys == [
        "part_maps.weight",
        "part_maps.bias",
        "part_mix.weight",
        "part_mix.bias",
    ]
    cat = torch.stack([torch.randint(len(v), (4,)) for v in renderer.categorical_values], dim=1)
    cont = torch.rand(4, len(renderer.continuous_ranges)) * 2 - 1
    with torch.no_grad():
        assert torch.equal(plain(cat, cont), mapped(cat, cont))
        torch.nn.init.normal_(mapped.part_mix.weight)
        nose = CATEGORICAL_FIELDS.index("nose.id")
        other = cat.clone()
        other[:, nose] = (cat[:, nose] + 1) % len(renderer.categorical_values[nose])
        assert (mapped(cat, cont) - mapped(other, cont)).abs().mean() > 3 * (
            plain(cat, cont) - plain(other, cont)
        ).abs().mean()


def test_part_maps_must_join_features_of_their_size(face_pipeline):
    renderer = face_pipeline.renderer
    with pytest.raises(ValueError, match="part_map_size 12"):
        FaceRenderer(renderer.categorical_values, renderer.continuous_ranges, part_map_channels=4, part_map_size=12)


@pytest.mark.parametrize("angle", [-10.0, 0.0, 15.0])
def test_part_sprites_land_where_facesjs_draws_the_eyes(face_pipeline, angle):
    """A dot 20 SVG units right of the eye sprite's centre lands, in each eye, where facesjs's transform puts it: turned
    by the face's eye angle about the eye's position, the second eye mirrored (the pair symmetric about the face's
    middle)."""
    renderer = face_pipeline.renderer
    sprites = PartSprites(renderer.categorical_values, renderer.continuous_ranges, resolution=128)
    codec = FaceCodec.from_config(renderer.categorical_values, renderer.continuous_ranges)
    texels_w, texels_h = sprites_module.PARTS["eye"]["texels"]
    centre_x = (20 + texels_w * sprites_module.TEXEL / 2) / sprites_module.TEXEL - 0.5  # texel of v = (20, 0)
    centre_y = texels_h / 2 - 0.5
    ys, xs = torch.meshgrid(torch.arange(texels_h), torch.arange(texels_w), indexing="ij")
    dot = torch.exp(-((xs - centre_x) ** 2 + (ys - centre_y) ** 2) / 2).clamp(1e-6, 1 - 1e-6)
    with torch.no_grad():
        for texture in [*sprites.textures.values(), *sprites.line_bitmaps.values()]:
            texture[:] = -30.0  # every other part transparent
        sprites.textures["eye"][:, 0] = torch.logit(dot)  # the eye sprite: opacity, then colour
        sprites.textures["eye"][:, 1:4] = 1.0
    low, high = renderer.continuous_ranges[CONTINUOUS_FIELDS.index("eye.angle")]
    continuous = torch.zeros(1, len(CONTINUOUS_FIELDS))
    continuous[0, CONTINUOUS_FIELDS.index("eye.angle")] = codec._scale(CONTINUOUS_FIELDS.index("eye.angle"), angle)
    categorical = torch.zeros(1, len(CATEGORICAL_FIELDS), dtype=torch.long)
    with torch.no_grad():
        drawn = sprites(torch.zeros(1, 3, 128, 128), torch.zeros(1, 2, 128, 128), categorical, continuous)[0, 0]
    turn = math.radians(angle)
    px = 128 / 400
    for side, (anchor_x, sign) in enumerate([(140, 1), (260, -1)]):
        half = drawn[:, :64] if side == 0 else drawn[:, 64:]
        rows, cols = torch.meshgrid(torch.arange(128) + 0.5, torch.arange(64) + 0.5 + 64 * side, indexing="ij")
        mass = half.sum()
        got = ((cols * half).sum() / mass, (rows * half).sum() / mass)
        want = ((anchor_x + sign * 20 * math.cos(turn)) * px, (310 + 20 * math.sin(turn) - 70) * px)
        assert abs(got[0] - want[0]) < 0.3 and abs(got[1] - want[1]) < 0.3, (side, got, want)


@pytest.fixture(scope="module")
def sprite_pipeline(face_pipeline):
    """A pipeline whose renderer draws part sprites (freshly initialised, so their sprites are faint but drawn)."""
    renderer = face_pipeline.renderer
    torch.manual_seed(0)
    sprite_renderer = FaceRenderer(
        renderer.categorical_values, renderer.continuous_ranges, channels=(16, 16, 16, 8), part_sprites=True
    ).eval()
    with torch.no_grad():
        for texture in [*sprite_renderer.sprites.textures.values(), *sprite_renderer.sprites.line_bitmaps.values()]:
            texture.normal_(0.0, 2.0)  # visible, varied sprites
    return FacePipeline(sprite_renderer, face_pipeline.prior, precision=torch.float32)


def test_sprite_renderer_draws_the_sprites_in_the_app(sprite_pipeline):
    """generate, variations and morph pass each face's parameters, so a sprite renderer's parts are drawn; without
    them it refuses rather than drawing faces without eyes."""
    renderer = sprite_pipeline.renderer
    drawn = sprite_pipeline._draw([3, 4], 1.0, sprite_pipeline._allowed(None, None))
    e = sprite_pipeline._embed(drawn)
    with torch.no_grad():
        bare = renderer.to_rgb(renderer.features(e))
        assert (renderer(drawn.categorical, drawn.continuous) - bare).abs().amax() > 0.1
        with pytest.raises(ValueError, match="sprites"):
            renderer.render(e)
    faces = sprite_pipeline.generate(seed=3, count=2)
    assert np.abs(pixels(faces.images[0]) - pixels(sprite_pipeline.generate(seed=3).images[0])).max() <= 1
    assert len(sprite_pipeline.variations(seed=3, count=3).images) == 3


def test_sprite_morph_fades_from_one_face_to_the_other(sprite_pipeline):
    morph = sprite_pipeline.morph(seed_a=11, seed_b=99, frames=5)
    start, end = (sprite_pipeline.generate(seed=s).images[0] for s in (11, 99))
    assert np.abs(pixels(morph.images[0]) - pixels(start)).max() <= 1
    assert np.abs(pixels(morph.images[-1]) - pixels(end)).max() <= 1
    middle = pixels(morph.images[2])
    assert np.abs(middle - pixels(start)).mean() > 1 and np.abs(middle - pixels(end)).mean() > 1


def test_sprites_draw_the_same_in_training_and_inference(sprite_pipeline):
    """Outside autograd the sprites are drawn in place; in training on copies: the same pictures either way."""
    renderer = sprite_pipeline.renderer
    drawn = sprite_pipeline._draw([5, 6, 7], 1.0, sprite_pipeline._allowed(None, None))
    with torch.no_grad():
        inference = renderer(drawn.categorical, drawn.continuous)
    training = renderer(drawn.categorical, drawn.continuous)
    assert training.requires_grad
    torch.testing.assert_close(training.detach(), inference)
