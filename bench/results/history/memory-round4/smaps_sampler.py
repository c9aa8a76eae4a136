"""Every 20 s, the resident memory of the running `gigcx serve` by kind of mapping (the brk heap,
anonymous maps by size, mapped model files, shared objects and other files), one JSON line each:
`python smaps_sampler.py OUT.jsonl` beside a `bench/load.py --soak` run."""
import json
import subprocess
import sys
import time

out = open(sys.argv[1], "a")
while True:
    pids = subprocess.run(["pgrep", "-f", "gigcx serve"], capture_output=True, text=True).stdout.split()
    if pids:
        pid = pids[0]
        try:
            maps, cur = [], None
            for line in open(f"/proc/{pid}/smaps"):
                parts = line.split()
                if "-" in parts[0] and not parts[0].endswith(":"):
                    cur = {"range": parts[0], "name": parts[5] if len(parts) > 5 else "[anon]", "deleted": line.rstrip().endswith("(deleted)")}
                    maps.append(cur)
                elif parts[0] == "Rss:":
                    cur["rss"] = int(parts[1])
            agg = {}
            for m in maps:
                key = m["name"] if m["name"].startswith("[") else ("model-file" if m["deleted"] else ("so/file"))
                if m["name"] == "[anon]":
                    size = int(m["range"].split("-")[1], 16) - int(m["range"].split("-")[0], 16)
                    key = "anon>=8M" if size >= 8 << 20 else ("anon>=1M" if size >= 1 << 20 else "anon<1M")
                agg[key] = agg.get(key, 0) + m.get("rss", 0)
            out.write(json.dumps({"t": time.time(), "pid": pid, "agg": agg, "n_anon": sum(1 for m in maps if m["name"] == "[anon]")}) + "\n")
            out.flush()
        except (FileNotFoundError, ProcessLookupError, TypeError):
            pass
    time.sleep(20)
