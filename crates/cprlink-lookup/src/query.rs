//! The GraphQL query: the built-in text, or the operator's own from
//! `graphql_query_file` (Datafordeler may rename or drop fields between versions,
//! datafordeler.md 5.1), checked before it is used; and the fields it selects, which
//! `doctor` checks against the server's SDL (`<graphql_url>/schema`).
//!
//! Owns what a usable query is: one query operation that takes `$cpr` as a list of
//! strings and passes it to `CPRCustom_PublicSectorPerson`, no aliases (Datafordeler
//! refuses them), and under `nodes` the fields a record is read from, `beskyttelser`
//! among them (the server requires it). It sends nothing: `graphql` sends the query,
//! `doctor` fetches the SDL.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_graphql_parser::Positioned;
use async_graphql_parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet, Type,
    TypeKind, TypeSystemDefinition,
};
use async_graphql_value::Value;

use crate::error::Error;

/// The entity of the CPR custom public-sector service (datafordeler.md 2).
pub const ENTITY: &str = "CPRCustom_PublicSectorPerson";

/// The built-in query: filter on the `in` list, select what the record needs.
pub const BUILTIN: &str = "query($cpr:[String!]!){CPRCustom_PublicSectorPerson(input:{personnummer:{personnummer:{in:$cpr}}}){nodes{id status personnumre{personnummer status} navne{fornavne mellemnavn efternavn adresseringsnavn status virkningfra virkningtil} beskyttelser{beskyttelsestype status virkningfra virkningtil}}}}";

/// Fields under `nodes` a query must select, and why (for the message when one is
/// missing). `person::person` reads more when it is there (`virkningfra`, the
/// numbers' `status`), and copes without.
const REQUIRED: &[(&str, &str)] = &[
    ("status", "the person status of the record"),
    (
        "personnumre.personnummer",
        "to match each person of a batch answer to the number asked",
    ),
    (
        "navne.status",
        "to pick the current name out of the history",
    ),
    (
        "beskyttelser.beskyttelsestype",
        "the server requires `beskyttelser`, and it says whether the name is protected",
    ),
    (
        "beskyttelser.virkningtil",
        "to tell a protection in force from one that has ended",
    ),
];

/// The name parts of which a query must select at least one.
const NAME_PARTS: &[&str] = &["fornavne", "mellemnavn", "efternavn", "adresseringsnavn"];

/// Where the query text came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuerySource {
    Builtin,
    File(PathBuf),
}

/// A checked query, cheap to clone.
#[derive(Debug, Clone)]
pub struct Query {
    text: Arc<str>,
    source: QuerySource,
}

impl Default for Query {
    fn default() -> Self {
        Query::builtin()
    }
}

impl Query {
    pub fn builtin() -> Query {
        Query {
            text: Arc::from(BUILTIN),
            source: QuerySource::Builtin,
        }
    }

    /// Reads and checks `graphql_query_file`.
    pub fn from_file(path: &Path) -> Result<Query, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::QueryFileRead {
            path: path.to_path_buf(),
            source,
        })?;
        Query::from_text(&text, QuerySource::File(path.to_path_buf()))
    }

    /// Checks `text` as a query cprlink can send and read the answers of.
    pub fn from_text(text: &str, source: QuerySource) -> Result<Query, Error> {
        let problem = |problem: String| match &source {
            QuerySource::File(path) => Error::QueryFile {
                path: path.clone(),
                problem,
            },
            // The built-in query is checked by a test; failing here is a bug, and the
            // message still says what is wrong.
            QuerySource::Builtin => Error::Config {
                key: "the built-in GraphQL query",
                problem,
            },
        };
        check(text).map_err(problem)?;
        Ok(Query {
            text: Arc::from(text.trim()),
            source,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn source(&self) -> &QuerySource {
        &self.source
    }

    /// Every field the query selects, as its path from the query root
    /// (`CPRCustom_PublicSectorPerson.nodes.navne.mellemnavn`), sorted, each once.
    pub fn selected_fields(&self) -> Vec<String> {
        let Ok(doc) = async_graphql_parser::parse_query(self.text()) else {
            return Vec::new();
        };
        let Some((_, op)) = doc.operations.iter().next() else {
            return Vec::new();
        };
        let mut out = BTreeSet::new();
        collect(&doc, &op.node.selection_set.node, "", &mut out, 0);
        out.into_iter().collect()
    }
}

/// A selected field the server's schema does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingField {
    /// As selected: `CPRCustom_PublicSectorPerson.nodes.navne.mellemnavn`.
    pub path: String,
    /// The type that lacks it: `CPRCustom_PublicSectorNavn`.
    pub on_type: String,
}

/// The fields of `selected` (paths from [`Query::selected_fields`]) that the schema in
/// `sdl` does not have, each named once (not the fields under a missing one). `Err`
/// when the SDL cannot be read, with the reason.
pub fn missing_in_sdl(selected: &[String], sdl: &str) -> Result<Vec<MissingField>, String> {
    let doc = async_graphql_parser::parse_schema(sdl)
        .map_err(|e| format!("the schema is not SDL ({e})"))?;
    let mut types: HashMap<&str, HashMap<&str, String>> = HashMap::new();
    let mut root = "Query".to_owned();
    for def in &doc.definitions {
        match def {
            TypeSystemDefinition::Schema(s) => {
                if let Some(q) = &s.node.query {
                    root = q.node.to_string();
                }
            }
            TypeSystemDefinition::Type(t) => {
                let fields = match &t.node.kind {
                    TypeKind::Object(o) => &o.fields,
                    TypeKind::Interface(i) => &i.fields,
                    TypeKind::Scalar
                    | TypeKind::Union(_)
                    | TypeKind::Enum(_)
                    | TypeKind::InputObject(_) => continue,
                };
                let entry = types.entry(t.node.name.node.as_str()).or_default();
                for f in fields {
                    entry.insert(f.node.name.node.as_str(), named(&f.node.ty.node).to_owned());
                }
            }
            TypeSystemDefinition::Directive(_) => {}
        }
    }
    if !types.contains_key(root.as_str()) {
        return Err(format!("the schema has no query type `{root}`"));
    }
    let mut missing: Vec<MissingField> = Vec::new();
    for path in selected {
        let mut ty = root.clone();
        let mut so_far = String::new();
        for segment in path.split('.') {
            if !so_far.is_empty() {
                so_far.push('.');
            }
            so_far.push_str(segment);
            if segment == "__typename" {
                break;
            }
            let next = types
                .get(ty.as_str())
                .and_then(|fields| fields.get(segment).cloned());
            match next {
                Some(t) => ty = t,
                None => {
                    // A missing field's own subfields are not reported again.
                    // (`a.status` missing does not hide a missing `a.statusdato`.)
                    let within = |m: &MissingField| {
                        so_far == m.path
                            || so_far
                                .strip_prefix(m.path.as_str())
                                .is_some_and(|rest| rest.starts_with('.'))
                    };
                    if !missing.iter().any(within) {
                        missing.push(MissingField {
                            path: so_far.clone(),
                            on_type: ty.clone(),
                        });
                    }
                    break;
                }
            }
        }
    }
    Ok(missing)
}

/// The named type inside lists and non-nulls.
fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(n) => n.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

/// Fragments may nest; a cycle is invalid GraphQL, and this bound keeps it finite.
const MAX_DEPTH: usize = 32;

/// Adds the dotted paths of every field selected in `set` (under `prefix`) to `out`,
/// through fragment spreads and inline fragments.
fn collect(
    doc: &ExecutableDocument,
    set: &SelectionSet,
    prefix: &str,
    out: &mut BTreeSet<String>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    for item in &set.items {
        match &item.node {
            Selection::Field(f) => {
                let name = f.node.name.node.as_str();
                let path = if prefix.is_empty() {
                    name.to_owned()
                } else {
                    format!("{prefix}.{name}")
                };
                collect(doc, &f.node.selection_set.node, &path, out, depth + 1);
                out.insert(path);
            }
            Selection::InlineFragment(frag) => {
                collect(doc, &frag.node.selection_set.node, prefix, out, depth + 1);
            }
            Selection::FragmentSpread(spread) => {
                if let Some(frag) = doc.fragments.get(&spread.node.fragment_name.node) {
                    collect(doc, &frag.node.selection_set.node, prefix, out, depth + 1);
                }
            }
        }
    }
}

/// Every field of `set` (through fragments) with its alias, for the alias check and
/// for finding the entity's field and its arguments.
fn fields<'a>(
    doc: &'a ExecutableDocument,
    set: &'a SelectionSet,
    out: &mut Vec<&'a Positioned<async_graphql_parser::types::Field>>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    for item in &set.items {
        match &item.node {
            Selection::Field(f) => {
                out.push(f);
                fields(doc, &f.node.selection_set.node, out, depth + 1);
            }
            Selection::InlineFragment(frag) => {
                fields(doc, &frag.node.selection_set.node, out, depth + 1);
            }
            Selection::FragmentSpread(spread) => {
                if let Some(frag) = doc.fragments.get(&spread.node.fragment_name.node) {
                    fields(doc, &frag.node.selection_set.node, out, depth + 1);
                }
            }
        }
    }
}

fn uses_variable(value: &Value, name: &str) -> bool {
    match value {
        Value::Variable(v) => v.as_str() == name,
        Value::List(items) => items.iter().any(|v| uses_variable(v, name)),
        Value::Object(map) => map.values().any(|v| uses_variable(v, name)),
        Value::Null
        | Value::Number(_)
        | Value::String(_)
        | Value::Boolean(_)
        | Value::Binary(_)
        | Value::Enum(_) => false,
    }
}

/// What is wrong with `text` as cprlink's query, in one sentence (or a list).
fn check(text: &str) -> Result<(), String> {
    let doc = async_graphql_parser::parse_query(text)
        .map_err(|e| format!("does not parse as a GraphQL query ({e})"))?;
    let op = match &doc.operations {
        DocumentOperations::Single(op) => op,
        DocumentOperations::Multiple(ops) if ops.len() == 1 => match ops.values().next() {
            Some(op) => op,
            None => return Err("holds no operation".to_owned()),
        },
        DocumentOperations::Multiple(ops) => {
            return Err(format!(
                "holds {} operations; cprlink sends the file as one query, so it must hold exactly one",
                ops.len()
            ));
        }
    };
    let op = &op.node;
    if op.ty != OperationType::Query {
        return Err(format!(
            "is a {}; cprlink needs a query",
            match op.ty {
                OperationType::Mutation => "mutation",
                OperationType::Subscription => "subscription",
                OperationType::Query => "query",
            }
        ));
    }
    let Some(cpr) = op
        .variable_definitions
        .iter()
        .find(|v| v.node.name.node.as_str() == "cpr")
    else {
        return Err(
            "does not take $cpr, the list of CPR numbers cprlink sends (declare it as query($cpr:[String!]!){...})"
                .to_owned(),
        );
    };
    let is_string_list = matches!(
        &cpr.node.var_type.node.base,
        BaseType::List(inner) if matches!(&inner.base, BaseType::Named(n) if n.as_str() == "String")
    );
    if !is_string_list {
        return Err(format!(
            "declares $cpr as {}; cprlink sends a list of strings ([String!]!)",
            cpr.node.var_type.node
        ));
    }
    if let Some(other) = op.variable_definitions.iter().find(|v| {
        v.node.name.node.as_str() != "cpr"
            && !v.node.var_type.node.nullable
            && v.node.default_value.is_none()
    }) {
        return Err(format!(
            "requires ${} ({}), which cprlink does not send: give it a default or leave it out",
            other.node.name.node, other.node.var_type.node
        ));
    }
    let mut all = Vec::new();
    fields(&doc, &op.selection_set.node, &mut all, 0);
    if let Some(aliased) = all.iter().find(|f| f.node.alias.is_some()) {
        return Err(format!(
            "uses an alias ({}: {}), which Datafordeler refuses",
            aliased.node.alias.as_ref().map_or("", |a| a.node.as_str()),
            aliased.node.name.node
        ));
    }
    // The entity at the top (directly or through a fragment), taking $cpr.
    let mut at_root = BTreeSet::new();
    collect(&doc, &op.selection_set.node, "", &mut at_root, 0);
    if !at_root.contains(ENTITY) {
        return Err(format!("does not select {ENTITY}"));
    }
    let entity = all
        .iter()
        .find(|f| f.node.name.node.as_str() == ENTITY)
        .map(|f| &f.node);
    let takes_cpr = entity.is_some_and(|f| {
        f.arguments
            .iter()
            .any(|(_, value)| uses_variable(&value.node, "cpr"))
    });
    if !takes_cpr {
        return Err(format!(
            "does not pass $cpr to {ENTITY} (e.g. {ENTITY}(input:{{personnummer:{{personnummer:{{in:$cpr}}}}}}))"
        ));
    }
    let nodes = format!("{ENTITY}.nodes");
    if !at_root.contains(&nodes) {
        return Err(format!("does not select nodes under {ENTITY}"));
    }
    let under = |rel: &str| at_root.contains(&format!("{nodes}.{rel}"));
    let mut wanting: Vec<String> = REQUIRED
        .iter()
        .filter(|(rel, _)| !under(rel))
        .map(|(rel, why)| format!("{rel} ({why})"))
        .collect();
    if !NAME_PARTS.iter().any(|p| under(&format!("navne.{p}"))) {
        wanting.push(format!(
            "a part of navne: {} (the name itself)",
            NAME_PARTS.join(", ")
        ));
    }
    if !wanting.is_empty() {
        return Err(format!(
            "does not select, under {nodes}, what cprlink reads: {}",
            wanting.join("; ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(text: &str) -> String {
        match Query::from_text(text, QuerySource::File(PathBuf::from("q.graphql"))) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_builtin_query_passes_its_own_checks() {
        let q = Query::from_text(BUILTIN, QuerySource::Builtin).unwrap();
        let fields = q.selected_fields();
        assert!(fields.contains(&"CPRCustom_PublicSectorPerson.nodes.beskyttelser".to_owned()));
        assert!(fields.contains(&"CPRCustom_PublicSectorPerson.nodes.navne.mellemnavn".to_owned()));
        assert!(fields.contains(&"CPRCustom_PublicSectorPerson".to_owned()));
    }

    #[test]
    fn an_operators_query_may_drop_a_name_part_and_use_fragments() {
        let text = "query Names($cpr: [String!]!) {
              CPRCustom_PublicSectorPerson(input: {personnummer: {personnummer: {in: $cpr}}}) {
                nodes { ...P }
              }
            }
            fragment P on CPRCustom_PublicSectorPerson {
              status personnumre { personnummer }
              navne { fornavne efternavn status }
              beskyttelser { beskyttelsestype virkningtil }
            }";
        assert_eq!(problem(text), "");
    }

    #[test]
    fn what_is_wrong_is_said() {
        let cases: [(&str, &str); 9] = [
            ("query {", "does not parse"),
            (
                "mutation($cpr:[String!]!){CPRCustom_PublicSectorPerson(input:{a:$cpr}){nodes{status}}}",
                "is a mutation",
            ),
            (
                "query{CPRCustom_PublicSectorPerson(input:{}){nodes{status}}}",
                "does not take $cpr",
            ),
            (
                "query($cpr:String!){CPRCustom_PublicSectorPerson(input:{a:$cpr}){nodes{status}}}",
                "declares $cpr as String!",
            ),
            (
                "query($cpr:[String!]!,$n:Int!){CPRCustom_PublicSectorPerson(input:{a:$cpr}){nodes{status}}}",
                "requires $n (Int!)",
            ),
            (
                "query($cpr:[String!]!){p: CPRCustom_PublicSectorPerson(input:{a:$cpr}){nodes{status}}}",
                "uses an alias (p: CPRCustom_PublicSectorPerson)",
            ),
            (
                "query($cpr:[String!]!){CPRCustom_PublicSectorPerson(input:{}){nodes{status}}}",
                "does not pass $cpr",
            ),
            (
                "query($cpr:[String!]!){CPRCustom_PublicSectorPerson(input:{a:{in:$cpr}}){totalCount}}",
                "does not select nodes",
            ),
            (
                "query($cpr:[String!]!){CPRCustom_PublicSectorPerson(input:{a:{in:$cpr}}){nodes{status personnumre{personnummer} navne{status fornavne}}}}",
                "beskyttelser.beskyttelsestype (the server requires `beskyttelser`",
            ),
        ];
        for (text, want) in cases {
            let p = problem(text);
            assert!(p.contains(want), "{text}: {p}");
            assert!(p.starts_with("graphql_query_file q.graphql: "), "{p}");
        }
        let p = problem(
            "query($cpr:[String!]!){CPRCustom_PublicSectorPerson(input:{a:{in:$cpr}}){nodes{status personnumre{personnummer} navne{status} beskyttelser{beskyttelsestype virkningtil}}}}",
        );
        assert!(p.contains("a part of navne"), "{p}");
    }

    #[test]
    fn missing_fields_are_named_once_with_their_type() {
        let sdl = "schema { query: Query }
            type Query { CPRCustom_PublicSectorPerson(input: In!): Conn! }
            input In { a: String }
            type Conn { nodes: [P!]! totalCount: Int! }
            type P { id: String status: String personnumre: [Nr!] navne: [Navn!] }
            type Nr { personnummer: String status: String }
            type Navn { fornavne: String efternavn: String adresseringsnavn: String status: String virkningfra: String virkningtil: String }";
        let q = Query::builtin();
        let missing = missing_in_sdl(&q.selected_fields(), sdl).unwrap();
        let got: Vec<(&str, &str)> = missing
            .iter()
            .map(|m| (m.path.as_str(), m.on_type.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("CPRCustom_PublicSectorPerson.nodes.beskyttelser", "P"),
                (
                    "CPRCustom_PublicSectorPerson.nodes.navne.mellemnavn",
                    "Navn"
                ),
            ]
        );
        assert!(missing_in_sdl(&q.selected_fields(), "type {").is_err());
        assert!(missing_in_sdl(&q.selected_fields(), "type Other { a: String }").is_err());
    }

    #[test]
    fn a_missing_field_hides_its_subfields_but_not_a_field_it_is_a_prefix_of() {
        let sdl = "schema { query: Query }
            type Query { p: P }
            type P { id: String navne: [Navn!] }
            type Navn { fornavne: String }";
        let selected: Vec<String> = ["p.status", "p.statusdato", "p.navne.x", "p.navne.x.y"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        let got: Vec<String> = missing_in_sdl(&selected, sdl)
            .unwrap()
            .into_iter()
            .map(|m| m.path)
            .collect();
        assert_eq!(got, ["p.status", "p.statusdato", "p.navne.x"]);
    }
}
