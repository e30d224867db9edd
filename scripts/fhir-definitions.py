#!/usr/bin/env python3
"""Derives client/fhir/definitions/r4-elements.json from HL7's FHIR R4 (4.0.1) core package.

    scripts/fhir-definitions.py PACKAGE_DIR [OUTPUT]
    scripts/fhir-definitions.py --git GIT_DIR REV PATH [OUTPUT]

PACKAGE_DIR is the `package/` folder of hl7.fhir.r4.core 4.0.1 (its StructureDefinition-*.json);
with --git the same folder is read from a git repository at REV (client/fhir/definitions/SOURCES.md
names the one the committed file was made from). OUTPUT defaults to
client/fhir/definitions/r4-elements.json. Python 3 standard library only; the output is the same
byte for byte for the same input.

What is kept, from the snapshot of every base resource and datatype (derivation
`specialization`; profiles and extension definitions are left out):

- "primitives": each primitive type and the JSON value that carries it (boolean, number,
  integer, string);
- "resources": the concrete resource types;
- "nodes": for each complex datatype, each resource, and each backbone element (by its path,
  e.g. `Observation.component`), the elements it has, each as
  [json name, min, max ("1" or "*"), type, choice]: `type` is a primitive type, a node (a
  datatype, or the path of a backbone element; a contentReference names the node it points to),
  or `Resource` (any resource, by its resourceType); `choice` is the `[x]` element a JSON name
  comes from (`value[x]` gives `valueQuantity`, `valueString`, …), or null.
"""

import json
import os
import subprocess
import sys

FHIR_VERSION = "4.0.1"
FHIRPATH_TYPES = {
    "http://hl7.org/fhirpath/System.String": "string",
    "http://hl7.org/fhirpath/System.Boolean": "boolean",
    "http://hl7.org/fhirpath/System.Integer": "integer",
    "http://hl7.org/fhirpath/System.Decimal": "decimal",
    "http://hl7.org/fhirpath/System.Date": "date",
    "http://hl7.org/fhirpath/System.DateTime": "dateTime",
    "http://hl7.org/fhirpath/System.Time": "time",
}
FHIR_TYPE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
# How JSON carries each primitive (FHIR R4, JSON representation, section 2.6.2.1).
JSON_KIND = {"boolean": "boolean", "integer": "integer", "positiveInt": "integer",
             "unsignedInt": "integer", "decimal": "number"}


def read_package(args):
    """The StructureDefinitions of the package, by file name."""
    if args[0] == "--git":
        git_dir, rev, path = args[1:4]
        rest = args[4:]
        listing = subprocess.run(["git", "--git-dir", git_dir, "ls-tree", "--name-only", rev, path.rstrip("/") + "/"],
                                 check=True, capture_output=True, text=True).stdout.split()
        files = {}
        for name in listing:
            base = os.path.basename(name)
            if base.startswith("StructureDefinition-") and base.endswith(".json"):
                blob = subprocess.run(["git", "--git-dir", git_dir, "show", f"{rev}:{name}"],
                                      check=True, capture_output=True).stdout
                files[base] = json.loads(blob)
        return files, rest
    folder, rest = args[0], args[1:]
    files = {}
    for base in sorted(os.listdir(folder)):
        if base.startswith("StructureDefinition-") and base.endswith(".json"):
            with open(os.path.join(folder, base), encoding="utf-8") as f:
                files[base] = json.load(f)
    return files, rest


def type_code(element_type):
    code = element_type["code"]
    if code in FHIRPATH_TYPES:
        for ext in element_type.get("extension", []):
            if ext.get("url") == FHIR_TYPE_EXTENSION:
                return ext["valueUrl"] if "valueUrl" in ext else ext["valueUri"]
        return FHIRPATH_TYPES[code]
    return code


def upper_first(code):
    return code[0].upper() + code[1:]


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 2
    files, rest = read_package(argv)
    out = rest[0] if rest else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "client", "fhir",
                                            "definitions", "r4-elements.json")
    base = [d for d in files.values()
            if d.get("resourceType") == "StructureDefinition" and d.get("fhirVersion") == FHIR_VERSION
            and d.get("derivation") == "specialization" and d.get("kind") in ("primitive-type", "complex-type",
                                                                               "resource")]
    primitives = {d["type"]: JSON_KIND.get(d["type"], "string") for d in base if d["kind"] == "primitive-type"}
    primitives["xhtml"] = "string"  # Narrative.div: a string in JSON
    complex_types = {d["type"]: d for d in base if d["kind"] == "complex-type"}
    resources = {d["type"]: d for d in base if d["kind"] == "resource"}
    # Element (no derivation: the root of all datatypes) gives what `_name` siblings hold.
    element = [d for d in files.values() if d.get("resourceType") == "StructureDefinition" and d.get("id") == "Element"]
    assert len(element) == 1, "the package has StructureDefinition-Element.json"
    complex_types["Element"] = element[0]

    nodes = {}
    used_types = set()

    def add(definition):
        elements = definition["snapshot"]["element"]
        paths = {e["path"] for e in elements}
        root = definition["type"]
        for e in elements:
            path = e["path"]
            if path == root:
                nodes.setdefault(root, [])
                continue
            parent, name = path.rsplit(".", 1)
            if e["max"] == "0":
                continue  # prohibited: as good as absent
            assert e["max"] in ("1", "*"), (path, e["max"])
            choice = None
            if "contentReference" in e:
                target = e["contentReference"]
                assert target.startswith("#"), path
                kinds = [target[1:]]
            elif path in {p.rsplit(".", 1)[0] for p in paths if "." in p}:
                kinds = [path]  # a backbone element: its own elements follow in the snapshot
            else:
                kinds = [type_code(t) for t in e["type"]]
            if name.endswith("[x]"):
                choice = name
                names = [(name[:-3] + upper_first(k), k) for k in kinds]
            else:
                assert len(kinds) == 1, (path, kinds)
                names = [(name, kinds[0])]
            for json_name, kind in names:
                if kind not in primitives and kind != "Resource" and "." not in kind:
                    used_types.add(kind)
                nodes.setdefault(parent, []).append([json_name, e["min"], e["max"], kind, choice])

    for name in sorted(resources):
        add(resources[name])
    for name in sorted(complex_types):
        add(complex_types[name])
    missing = sorted(t for t in used_types if t not in nodes)
    assert not missing, f"types used but not defined: {missing}"
    for node, children in nodes.items():
        names = [c[0] for c in children]
        assert len(names) == len(set(names)), f"{node}: a JSON name twice"
        for c in children:
            assert c[3] in primitives or c[3] in nodes or c[3] == "Resource", (node, c)

    abstract = sorted(n for n, d in resources.items() if d.get("abstract"))
    data = {
        "fhirVersion": FHIR_VERSION,
        "source": "hl7.fhir.r4.core 4.0.1 StructureDefinition snapshots (CC0-1.0); see SOURCES.md",
        "primitives": dict(sorted(primitives.items())),
        "resources": sorted(n for n in resources if n not in abstract),
        "nodes": {k: sorted(v, key=lambda c: c[0]) for k, v in sorted(nodes.items())},
    }
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=True)
    # One node a line: small diffs when the generator changes.
    text = text.replace('],"', '],\n"').replace('"nodes":{', '"nodes":{\n')
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write(text + "\n")
    print(f"{out}: {len(data['resources'])} resources, {len(nodes)} nodes, {len(text) + 1} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
