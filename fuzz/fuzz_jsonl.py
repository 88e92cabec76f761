"""atheris target: the JSON Lines reader. Run: python fuzz/fuzz_jsonl.py -max_total_time=20 [corpus dir]"""

from _target import main, reader_target

if __name__ == "__main__":
    main(reader_target("posts.jsonl", "jsonl"))
