#!/usr/bin/env python3
"""Checks spec/patch/strategic_cases.json against real Kubernetes.

Each case applies a strategic merge patch to a PodSpec (or to a Pod when
"kind" is "Pod"); its "want" (or "kubectl_error") is what
`kubectl patch --local --type strategic` answers for it. The busted spec
spec/patch/strategic_cases_spec.lua checks lunar against those answers.

  scripts/strategic-oracle.py [--kubectl PATH] [--write] [FILE]

Without --write, reports every case whose recorded answer differs from
kubectl's; with --write, records kubectl's answers (after adding cases).
Needs kubectl (any recent client; no cluster: --local).
"""
import argparse, json, os, subprocess, sys, tempfile

def kubectl_answer(kubectl, docs, case):
    doc = docs[case["doc"]] if isinstance(case["doc"], str) else case["doc"]
    pod = case.get("kind") == "Pod"
    whole = doc if pod else {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": doc}
    patch = case["patch"] if pod else {"spec": case["patch"]}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(whole, f)
    try:
        p = subprocess.run([kubectl, "patch", "--local", "-f", f.name, "--type", "strategic",
                            "-p", json.dumps(patch), "-o", "json"], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    if p.returncode:
        return {"kubectl_error": p.stderr.strip().splitlines()[0]}
    out = json.loads(p.stdout)
    return {"want": out if pod else out.get("spec", {})}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kubectl", default="kubectl")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("file", nargs="?", default=os.path.join(os.path.dirname(__file__), "..", "spec", "patch", "strategic_cases.json"))
    a = ap.parse_args()
    data = json.load(open(a.file))
    differ = 0
    for case in data["cases"]:
        got = kubectl_answer(a.kubectl, data["docs"], case)
        had = {k: case[k] for k in ("want", "kubectl_error") if k in case}
        if got != had:
            differ += 1
            if not a.write:
                print("differs:", case["name"], "\n  recorded:", json.dumps(had), "\n  kubectl: ", json.dumps(got))
        case.pop("want", None)
        case.pop("kubectl_error", None)
        case.update(got)
    if a.write:
        with open(a.file, "w") as f:
            f.write('{"docs": {\n')
            f.write(",\n".join(f"  {json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in data["docs"].items()))
            f.write('\n},\n"cases": [\n')
            f.write(",\n".join(json.dumps(c, sort_keys=True) for c in data["cases"]))
            f.write("\n]}\n")
    print(f"{len(data['cases'])} cases, {differ} {'updated' if a.write else 'differ'}")
    return 1 if differ and not a.write else 0

if __name__ == "__main__":
    sys.exit(main())
