"""atheris target: text analysis and normalisation (never crash, keep the original, idempotent)."""

from _target import main, normalize_target

if __name__ == "__main__":
    main(normalize_target)
