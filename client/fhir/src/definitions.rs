//! The base definitions of FHIR R4 (4.0.1): which elements each resource, backbone element
//! and datatype has, how many of each (min, max) and of which type. The data
//! (`definitions/r4-elements.json`) is derived from HL7's StructureDefinition snapshots by
//! `scripts/fhir-definitions.py` (see `definitions/SOURCES.md`); it is built into the crate and
//! read once.
//!
//! What is checked, everywhere in a resource (its datatypes, backbone elements, extensions,
//! contained resources, a Bundle's entries): every JSON property is an element the base
//! definition has (a choice `value[x]` by one of its JSON names, `valueQuantity`, …; `_name`
//! beside a primitive `name`, holding `id` and `extension`; `resourceType` at a resource's
//! root); every element of min 1 is there (as a value, or as `_name` alone); an element of max
//! `*` is an array, one of max 1 is not; a choice has one value; a primitive is the JSON value
//! that carries it (boolean, number, integer, string) and a complex value an object. Not
//! checked: value-set bindings, invariants (FHIRPath constraints), reference target types,
//! the format of primitive values, profiles.

use crate::Problem;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

const DATA: &str = include_str!("../definitions/r4-elements.json");

/// The most `[x]` elements one node has (R4: ElementDefinition's five).
const MAX_CHOICES: usize = 8;

/// How JSON carries a primitive type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Boolean,
    Integer,
    Number,
    String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    /// A primitive (its FHIR type's index in `Definitions::primitive_names`, how JSON holds it).
    Primitive(usize, Kind),
    /// A datatype or backbone element: the node's index.
    Node(usize),
    /// Any resource, by its `resourceType`.
    Resource,
}

#[derive(Debug)]
struct Child {
    name: String,
    /// `_name`: where a primitive's id and extensions go.
    sibling: String,
    many: bool,
    kind: Type,
    /// The choice (`value[x]`) this name is one of: an index into `Node::choices`.
    choice: Option<usize>,
}

#[derive(Debug)]
struct Node {
    name: String,
    /// Sorted by name.
    children: Vec<Child>,
    /// The `[x]` elements: their names.
    choices: Vec<String>,
    /// Elements of min 1: the name to report and the children (several for a choice) any of
    /// which is enough.
    required: Vec<(String, Vec<usize>)>,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Child> {
        self.children.binary_search_by(|c| c.name.as_str().cmp(name)).ok().map(|i| &self.children[i])
    }
}

/// The base definitions, read from the built-in data.
#[derive(Debug)]
pub(crate) struct Definitions {
    nodes: Vec<Node>,
    primitive_names: Vec<String>,
    /// Resource type to node.
    resources: HashMap<String, usize>,
    /// `Element`: what `_name` siblings hold.
    element: usize,
    /// `Bundle.entry`: whose `resource` a Bundle's frame leaves to the entries' own checks.
    bundle_entry: usize,
    #[cfg_attr(not(test), allow(dead_code))]
    version: String,
}

#[derive(serde::Deserialize)]
struct Raw {
    #[serde(rename = "fhirVersion")]
    fhir_version: String,
    primitives: HashMap<String, String>,
    resources: Vec<String>,
    nodes: HashMap<String, Vec<RawChild>>,
}

/// `[json name, min, max, type, choice]`, as the data file has it.
type RawChild = (String, u32, String, String, Option<String>);

impl Definitions {
    /// The definitions, read on first use.
    pub(crate) fn r4() -> &'static Definitions {
        static DEFINITIONS: OnceLock<Definitions> = OnceLock::new();
        DEFINITIONS.get_or_init(|| Definitions::read(DATA))
    }

    fn read(data: &str) -> Definitions {
        let raw: Raw = serde_json::from_str(data).expect("definitions/r4-elements.json is valid");
        let mut names: Vec<&String> = raw.nodes.keys().collect();
        names.sort();
        let index: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
        let mut primitive_names: Vec<String> = raw.primitives.keys().cloned().collect();
        primitive_names.sort();
        let primitive = |name: &str| -> Option<Type> {
            let i = primitive_names.iter().position(|p| p == name)?;
            let kind = match raw.primitives[name].as_str() {
                "boolean" => Kind::Boolean,
                "integer" => Kind::Integer,
                "number" => Kind::Number,
                "string" => Kind::String,
                other => panic!("definitions: primitive {name} carried as {other}"),
            };
            Some(Type::Primitive(i, kind))
        };
        let nodes = names
            .iter()
            .map(|name| {
                let mut choices: Vec<String> = Vec::new();
                let mut children: Vec<Child> = raw.nodes[*name]
                    .iter()
                    .map(|(child, _, max, kind, choice)| {
                        let kind = if kind == "Resource" {
                            Type::Resource
                        } else if let Some(p) = primitive(kind) {
                            p
                        } else {
                            Type::Node(*index.get(kind.as_str()).unwrap_or_else(|| panic!("definitions: {kind}?")))
                        };
                        let choice = choice.as_ref().map(|c| match choices.iter().position(|x| x == c) {
                            Some(i) => i,
                            None => {
                                choices.push(c.clone());
                                choices.len() - 1
                            }
                        });
                        Child { name: child.clone(), sibling: format!("_{child}"), many: max == "*", kind, choice }
                    })
                    .collect();
                children.sort_by(|a, b| a.name.cmp(&b.name));
                assert!(choices.len() <= MAX_CHOICES, "definitions: {name} has {} choices", choices.len());
                let mut required: Vec<(String, Vec<usize>)> = Vec::new();
                for (child, min, _, _, choice) in &raw.nodes[*name] {
                    if *min == 0 {
                        continue;
                    }
                    let at = children.iter().position(|c| &c.name == child).expect("a child");
                    let label = choice.clone().unwrap_or_else(|| child.clone());
                    match required.iter_mut().find(|(l, _)| *l == label) {
                        Some((_, any)) => any.push(at),
                        None => required.push((label, vec![at])),
                    }
                }
                Node { name: name.to_string(), children, choices, required }
            })
            .collect();
        let resources = raw
            .resources
            .iter()
            .map(|r| (r.clone(), *index.get(r.as_str()).unwrap_or_else(|| panic!("definitions: resource {r}?"))))
            .collect();
        Definitions {
            nodes,
            resources,
            element: index["Element"],
            bundle_entry: index["Bundle.entry"],
            primitive_names,
            version: raw.fhir_version,
        }
    }

    /// The FHIR version the definitions are of.
    #[cfg(test)]
    pub(crate) fn version(&self) -> &str {
        &self.version
    }

    /// The concrete resource types.
    #[cfg(test)]
    pub(crate) fn resource_types(&self) -> impl Iterator<Item = &str> {
        self.resources.keys().map(String::as_str)
    }

    /// Checks `resource` (an object with a `resourceType`) against the base definition of its
    /// type. With `frame`, a Bundle's entries' resources are left out (the caller checks each
    /// one, naming its entry).
    pub(crate) fn check(&self, resource: &Value, frame: bool) -> Result<(), Problem> {
        let Some(kind) = resource.get("resourceType").and_then(Value::as_str) else {
            return Err(Problem::MissingResourceType);
        };
        let root = Path::Root(kind);
        self.resource(resource, &root, frame)
    }

    fn resource(&self, value: &Value, path: &Path, frame: bool) -> Result<(), Problem> {
        let Value::Object(map) = value else {
            return Err(Problem::WrongKind { path: path.to_string(), expected: "a JSON object (a resource)".into() });
        };
        let kind = match map.get("resourceType") {
            Some(Value::String(kind)) => kind,
            Some(_) => {
                let path = Path::Key(path, "resourceType").to_string();
                return Err(Problem::WrongKind { path, expected: "a JSON string (a resource type)".into() });
            }
            None => return Err(Problem::MissingElement(Path::Key(path, "resourceType").to_string())),
        };
        let Some(&node) = self.resources.get(kind.as_str()) else {
            return Err(Problem::UnknownResourceType(kind.clone()));
        };
        self.object(node, map, path, true, frame)
    }

    fn object(&self, at: usize, map: &Map<String, Value>, path: &Path, root: bool, frame: bool) -> Result<(), Problem> {
        let node = &self.nodes[at];
        // The name each choice was given by, if any.
        let mut chosen: [Option<&str>; MAX_CHOICES] = [None; MAX_CHOICES];
        for (key, value) in map {
            if root && key == "resourceType" {
                continue;
            }
            let here = Path::Key(path, key);
            if let Some(name) = key.strip_prefix('_') {
                let child = match node.child(name) {
                    Some(child) if matches!(child.kind, Type::Primitive(..)) => child,
                    _ => return Err(Problem::UnknownElement(here.to_string())),
                };
                self.choose(node, child, &mut chosen, path)?;
                self.values(child, Type::Node(self.element), value, &here, frame)?;
                continue;
            }
            let Some(child) = node.child(key) else {
                return Err(Problem::UnknownElement(here.to_string()));
            };
            self.choose(node, child, &mut chosen, path)?;
            if frame && at == self.bundle_entry && key == "resource" {
                continue;
            }
            self.values(child, child.kind, value, &here, frame)?;
        }
        for (label, any) in &node.required {
            let present = any.iter().any(|&i| {
                let child = &node.children[i];
                map.contains_key(&child.name) || map.contains_key(&child.sibling)
            });
            if !present {
                return Err(Problem::MissingElement(Path::Key(path, label).to_string()));
            }
        }
        Ok(())
    }

    /// Records a choice's value; a second name for the same choice is refused.
    fn choose<'a>(
        &self,
        node: &Node,
        child: &'a Child,
        chosen: &mut [Option<&'a str>; MAX_CHOICES],
        path: &Path,
    ) -> Result<(), Problem> {
        let Some(choice) = child.choice else { return Ok(()) };
        match chosen[choice] {
            Some(other) if other != child.name => Err(Problem::ManyChoices {
                path: Path::Key(path, &node.choices[choice]).to_string(),
                first: other.to_string(),
                second: child.name.clone(),
            }),
            Some(_) => Ok(()),
            None => {
                chosen[choice] = Some(&child.name);
                Ok(())
            }
        }
    }

    /// The value(s) of one element: an array where max is `*`, one value where it is 1.
    fn values(&self, child: &Child, kind: Type, value: &Value, path: &Path, frame: bool) -> Result<(), Problem> {
        match (child.many, value) {
            (true, Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    // Nulls align a primitive list with its `_name` list.
                    if item.is_null() && matches!(child.kind, Type::Primitive(..)) {
                        continue;
                    }
                    self.value(kind, item, &Path::Index(path, i), frame)?;
                }
                Ok(())
            }
            (true, _) => Err(Problem::NotAList(path.to_string())),
            (false, Value::Array(_)) => Err(Problem::NotSingle(path.to_string())),
            (false, value) => self.value(kind, value, path, frame),
        }
    }

    fn value(&self, kind: Type, value: &Value, path: &Path, frame: bool) -> Result<(), Problem> {
        let wrong = |expected: String| Err(Problem::WrongKind { path: path.to_string(), expected });
        match (kind, value) {
            (_, Value::Null) => Err(Problem::Null(path.to_string())),
            (Type::Primitive(_, Kind::Boolean), Value::Bool(_)) => Ok(()),
            (Type::Primitive(_, Kind::Integer), Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(()),
            (Type::Primitive(_, Kind::Number), Value::Number(_)) => Ok(()),
            (Type::Primitive(_, Kind::String), Value::String(_)) => Ok(()),
            (Type::Primitive(i, kind), _) => {
                let json = match kind {
                    Kind::Boolean => "a JSON boolean",
                    Kind::Integer => "a JSON integer",
                    Kind::Number => "a JSON number",
                    Kind::String => "a JSON string",
                };
                wrong(format!("{json} ({})", self.primitive_names[i]))
            }
            (Type::Node(node), Value::Object(map)) => self.object(node, map, path, false, frame),
            (Type::Node(node), _) => wrong(format!("a JSON object ({})", self.nodes[node].name)),
            // A resource inside the frame (`Bundle.entry.response.outcome`) is checked whole.
            (Type::Resource, value) => self.resource(value, path, false),
        }
    }
}

/// Where a value is, written out only for a message: `Observation.code.coding[0].system`.
enum Path<'a> {
    Root(&'a str),
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root(name) => f.write_str(name),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}
