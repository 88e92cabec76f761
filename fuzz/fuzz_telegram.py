"""atheris target: the Telegram Desktop export reader (result.json), from inside its messages list."""

from _target import main, reader_target

if __name__ == "__main__":
    main(reader_target("result.json", "telegram", b'{"name": "c", "messages": ['))
