"""atheris target: the CSV reader (after a valid header, and as a whole file)."""

from _target import main, reader_target

if __name__ == "__main__":
    main(reader_target("posts.csv", "csv", b"id,text,media,created_at\n"))
