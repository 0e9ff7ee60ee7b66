import json, statistics, sys
# braid/MPI busbw per run, per size and placement; median over runs
files = sys.argv[1:]
per = {}
bw = {}
for f in files:
    rows = json.load(open(f))["rows"]
    cell = {(r["backend"], r["bytes"], r["inplace"]): r for r in rows}
    for (b, size, ip), r in cell.items():
        if b != "braid": continue
        m = cell.get(("mpi", size, ip))
        if not m or m["busbw_gbs"] <= 0: continue
        per.setdefault((size, ip), []).append(r["busbw_gbs"] / m["busbw_gbs"])
        bw.setdefault((size, ip), []).append((r["busbw_gbs"], m["busbw_gbs"]))
for (size, ip) in sorted(per):
    v = per[(size, ip)]
    b = statistics.median(x for x, _ in bw[(size, ip)]); m = statistics.median(y for _, y in bw[(size, ip)])
    print(f"{size:>10} {'ip' if ip else 'oop':>3} " + " ".join(f"{x:.2f}" for x in v) +
          f"  median {statistics.median(v):.2f} | braid {b:.3f} mpi {m:.3f}")
