"""atheris target: a media file read and fingerprinted (Pillow decode, PDQ, MD5) under posbon's limits."""

import atheris

with atheris.instrument_imports(include=["posbon"]):
    from posbon.domain import MediaKind
    from posbon.signals.media import MediaError, media_signals

from _target import _DIR, main, reader_target

_read = reader_target("image.png", "media")


def one_input(data: bytes) -> None:
    _read(data)
    try:
        media_signals(_DIR / "image.png", MediaKind.IMAGE)
    except MediaError as error:
        if "\n" in str(error):
            raise AssertionError(f"a MediaError of more than one line: {error!r}") from None


if __name__ == "__main__":
    main(one_input)
