"""Paper tokens: a generated document's token verifies; altered or foreign tokens are
rejected; after a new version the token still verifies and says the file changed."""

from __future__ import annotations

import io

import pytest

from dossier import paper
from dossier.errors import IntegrityError, InvalidInput

from seedkit import AS_OF, build


@pytest.fixture
def issued(seeded):
    no = sorted(seeded.control)[0]
    with seeded.open("li") as ar:
        tok = paper.issue(ar, no)
    return seeded, no, tok


def test_token_verifies_for_any_role(issued):
    seeded, no, tok = issued
    for user in ("admin", "qian"):            # the inspector holds no data key and still verifies
        with seeded.open(user) as ar:
            r = paper.verify(ar, tok.token)
        assert r["valid"] and r["archive_no"] == no and r["version"] == tok.version
        assert not r["changed_since"] and "*" in r["name"] and r["issued_by"] == "li"
    with seeded.open("qian") as ar:                 # printed text with spaces works too
        assert paper.verify(ar, tok.text)["valid"]


def test_one_changed_character_is_rejected(issued):
    seeded, _, tok = issued
    t = tok.token
    with seeded.open("admin") as ar:
        for i in range(3, len(t)):
            c = "A" if t[i] != "A" else "B"
            with pytest.raises((IntegrityError, InvalidInput)):
                paper.verify(ar, t[:i] + c + t[i + 1:])


def test_token_of_another_archive_is_rejected(issued, tmp_path):
    seeded, _, tok = issued
    other = build(tmp_path / "other", control_per_scope=1)
    with other.open("li") as ar:
        foreign = paper.issue(ar, sorted(other.control)[0])
    with seeded.open("admin") as ar:
        with pytest.raises(IntegrityError):
            paper.verify(ar, foreign.token)
    with other.open("admin") as ar:
        with pytest.raises(IntegrityError):
            paper.verify(ar, tok.token)


def test_new_version_says_changed_since(issued):
    seeded, no, tok = issued
    with seeded.open("li") as ar:
        ar.entries.add(no, "interview", {"date": "2025-05-30", "subject": "本人", "person_seen": True,
                                         "content": "回访。"}, today=AS_OF)
        r = paper.verify(ar, tok.token)
    assert r["valid"] and r["changed_since"] and r["head"] == tok.version + 1
    assert "已更新" in r["message"]


def test_qr_image_round_trip(issued, tmp_path):
    from PIL import Image

    seeded, no, tok = issued
    png = tok.qr_png(scale=6)
    # a "photo": the QR pasted on a larger grey page, saved as JPEG
    page = Image.new("L", (900, 700), 235)
    page.paste(Image.open(io.BytesIO(png)).convert("L"), (250, 150))
    photo = tmp_path / "照片.jpg"
    page.save(photo, quality=85)
    assert paper.decode_image(photo) == tok.token
    blank = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(blank)
    with pytest.raises(InvalidInput):
        paper.decode_image(blank)
