//! The GraphQL schema the sandbox serves: the types of `CPRCustom_PublicSectorPerson`
//! (datafordeler.md 2), the changes a sandbox was started with (fields dropped or
//! renamed, [`SchemaChange`]), and the SDL published at `<graphql_url>/schema` (5.1).
//!
//! The types below use the documented names; a change only alters how a field is
//! *served* (its name in the SDL, in queries and in answers), so the renderers in
//! `graphql.rs` keep matching on the documented names. Validation and execution are
//! `graphql.rs`'s.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use crate::error::Error;
use crate::options::SchemaChange;

/// How a field's values look in the SDL.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shape {
    /// A scalar of the named type (nullable).
    Scalar(&'static str),
    /// A scalar that is never null.
    NonNull(&'static str),
    /// A list of the field's object type (`[T!]`, `[T!]!` when `non_null`).
    List { non_null: bool },
    /// One object of the field's type, never null.
    Object,
}

#[derive(Debug)]
pub(crate) struct FieldDef {
    pub name: &'static str,
    /// `None` for scalars.
    pub ty: Option<&'static TypeDef>,
    pub args: &'static [&'static str],
    pub shape: Shape,
}

#[derive(Debug)]
pub(crate) struct TypeDef {
    pub name: &'static str,
    pub fields: &'static [FieldDef],
}

const fn leaf(name: &'static str, scalar: &'static str) -> FieldDef {
    FieldDef {
        name,
        ty: None,
        args: &[],
        shape: Shape::Scalar(scalar),
    }
}

const fn list(name: &'static str, ty: &'static TypeDef) -> FieldDef {
    FieldDef {
        name,
        ty: Some(ty),
        args: &[],
        shape: Shape::List { non_null: false },
    }
}

pub(crate) static PERSONNUMMER: TypeDef = TypeDef {
    name: "CPRCustom_PublicSectorPersonnummer",
    fields: &[
        leaf("personnummer", "String"),
        leaf("status", "String"),
        leaf("virkningfra", "DateTime"),
        leaf("virkningtil", "DateTime"),
    ],
};

pub(crate) static NAVN: TypeDef = TypeDef {
    name: "CPRCustom_PublicSectorNavn",
    fields: &[
        leaf("fornavne", "String"),
        leaf("mellemnavn", "String"),
        leaf("efternavn", "String"),
        leaf("adresseringsnavn", "String"),
        leaf("status", "String"),
        leaf("virkningfra", "DateTime"),
        leaf("virkningtil", "DateTime"),
    ],
};

pub(crate) static BESKYTTELSE: TypeDef = TypeDef {
    name: "CPRCustom_PublicSectorBeskyttelse",
    fields: &[
        leaf("beskyttelsestype", "String"),
        leaf("status", "String"),
        leaf("virkningfra", "DateTime"),
        leaf("virkningtil", "DateTime"),
    ],
};

pub(crate) static PERSON: TypeDef = TypeDef {
    name: "CPRCustom_PublicSectorPerson",
    fields: &[
        leaf("id", "String"),
        leaf("foedselsdato", "DateTime"),
        leaf("koen", "String"),
        leaf("status", "String"),
        leaf("statusdato", "DateTime"),
        list("personnumre", &PERSONNUMMER),
        list("navne", &NAVN),
        list("beskyttelser", &BESKYTTELSE),
    ],
};

pub(crate) static CONNECTION: TypeDef = TypeDef {
    name: "CPRCustom_PublicSectorPersonConnection",
    fields: &[
        FieldDef {
            name: "nodes",
            ty: Some(&PERSON),
            args: &[],
            shape: Shape::List { non_null: true },
        },
        FieldDef {
            name: "totalCount",
            ty: None,
            args: &[],
            shape: Shape::NonNull("Int"),
        },
    ],
};

pub(crate) static QUERY: TypeDef = TypeDef {
    name: "Query",
    fields: &[FieldDef {
        name: "CPRCustom_PublicSectorPerson",
        ty: Some(&CONNECTION),
        args: &["input"],
        shape: Shape::Object,
    }],
};

/// Fields the gateway insists on, per type (observed on Datafordeler), by their
/// documented names.
pub(crate) fn required_fields(ty: &TypeDef) -> &'static [&'static str] {
    if std::ptr::eq(ty, &PERSON) {
        &["beskyttelser"]
    } else {
        &[]
    }
}

/// A field of a type, as a key of the change tables.
type FieldKey = (&'static str, &'static str);

/// The schema as served: the documented one with a sandbox's changes applied.
#[derive(Debug, Default)]
pub(crate) struct Schema {
    renamed: HashMap<FieldKey, String>,
    dropped: HashSet<FieldKey>,
}

fn is_graphql_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
        && !s.starts_with("__")
}

/// The type and field a path names, walking from the person type.
fn resolve(path: &str) -> Result<(&'static TypeDef, &'static FieldDef), Error> {
    let problem = |p: String| Error::SchemaChange {
        path: path.to_owned(),
        problem: p,
    };
    let mut ty = &PERSON;
    let mut segments = path.split('.').peekable();
    while let Some(seg) = segments.next() {
        let def = ty.fields.iter().find(|f| f.name == seg).ok_or_else(|| {
            problem(format!(
                "{} has no field `{seg}` (fields: {})",
                ty.name,
                ty.fields
                    .iter()
                    .map(|f| f.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        if segments.peek().is_none() {
            return Ok((ty, def));
        }
        ty = def
            .ty
            .ok_or_else(|| problem(format!("`{seg}` is a scalar: nothing below it")))?;
    }
    Err(problem("the path is empty".to_owned()))
}

impl Schema {
    /// The documented schema with `changes` applied; a change naming no field, a field
    /// changed twice, or a new name that is not a GraphQL name or clashes is refused.
    pub(crate) fn new(changes: &[SchemaChange]) -> Result<Self, Error> {
        let mut s = Schema::default();
        for change in changes {
            let (SchemaChange::Drop { path } | SchemaChange::Rename { path, .. }) = change;
            let (ty, def) = resolve(path)?;
            let key = (ty.name, def.name);
            if s.dropped.contains(&key) || s.renamed.contains_key(&key) {
                return Err(Error::SchemaChange {
                    path: path.clone(),
                    problem: "the field is changed twice".to_owned(),
                });
            }
            match change {
                SchemaChange::Drop { .. } => {
                    s.dropped.insert(key);
                }
                SchemaChange::Rename { to, .. } => {
                    if !is_graphql_name(to) {
                        return Err(Error::SchemaChange {
                            path: path.clone(),
                            problem: format!("`{to}` is not a GraphQL name"),
                        });
                    }
                    s.renamed.insert(key, to.clone());
                }
            }
        }
        // No two fields of one type may be served under the same name.
        for ty in [&PERSON, &PERSONNUMMER, &NAVN, &BESKYTTELSE] {
            let mut seen = HashSet::new();
            for def in ty.fields {
                if let Some(name) = s.served(ty, def)
                    && !seen.insert(name)
                {
                    return Err(Error::SchemaChange {
                        path: name.to_owned(),
                        problem: format!("{} would have two fields named `{name}`", ty.name),
                    });
                }
            }
        }
        Ok(s)
    }

    fn unchanged(&self) -> bool {
        self.renamed.is_empty() && self.dropped.is_empty()
    }

    /// The name `def` of `ty` is served under, or `None` when it was dropped.
    pub(crate) fn served<'a>(&'a self, ty: &TypeDef, def: &'static FieldDef) -> Option<&'a str> {
        if self.unchanged() {
            return Some(def.name);
        }
        let key = (ty.name, def.name);
        if self.dropped.contains(&key) {
            return None;
        }
        Some(self.renamed.get(&key).map_or(def.name, String::as_str))
    }

    /// The field of `ty` a query calls `name`, and whether it is served under a new
    /// name (then the answer's key is `name`, not the documented one).
    pub(crate) fn field(
        &self,
        ty: &'static TypeDef,
        name: &str,
    ) -> Option<(&'static FieldDef, bool)> {
        if self.unchanged() {
            return ty
                .fields
                .iter()
                .find(|f| f.name == name)
                .map(|f| (f, false));
        }
        ty.fields.iter().find_map(|f| {
            let served = self.served(ty, f)?;
            (served == name).then_some((f, served != f.name))
        })
    }

    /// The SDL of the served schema, types in the order a reader meets them; types no
    /// longer reachable (a dropped list) are left out.
    pub(crate) fn sdl(&self, max_in_list: u32) -> String {
        let mut out = String::with_capacity(2048);
        out.push_str(
            "# The cprlink sandbox's stand-in for Datafordeler's CPR custom public-sector schema.\n\
             schema {\n  query: Query\n}\n\n\
             \"A point in time as CPR writes it: 1961-12-07T12:00:00.000000+01:00.\"\n\
             scalar DateTime\n\n\
             type Query {\n  CPRCustom_PublicSectorPerson(input: \
             CPRCustom_PublicSectorPersonFilterInput!): CPRCustom_PublicSectorPersonConnection!\n}\n\n\
             input CPRCustom_PublicSectorPersonFilterInput {\n  \
             personnummer: CPRCustom_PublicSectorPersonnummerFilterInput\n}\n\n\
             input CPRCustom_PublicSectorPersonnummerFilterInput {\n  \
             personnummer: DafStringOperationFilterInput\n}\n\n",
        );
        let _ = write!(
            out,
            "input DafStringOperationFilterInput {{\n  eq: String\n  \
             \"At most {max_in_list} values (MaxListSize).\"\n  in: [String!]\n}}\n"
        );
        let mut queue: Vec<&'static TypeDef> = vec![&CONNECTION];
        let mut done: Vec<&str> = Vec::new();
        while let Some(ty) = queue.first().copied() {
            queue.remove(0);
            if done.contains(&ty.name) {
                continue;
            }
            done.push(ty.name);
            let _ = write!(out, "\ntype {} {{\n", ty.name);
            for def in ty.fields {
                let Some(name) = self.served(ty, def) else {
                    continue;
                };
                let inner = def.ty.map_or("", |t| t.name);
                let shown = match def.shape {
                    Shape::Scalar(s) => s.to_owned(),
                    Shape::NonNull(s) => format!("{s}!"),
                    Shape::List { non_null: false } => format!("[{inner}!]"),
                    Shape::List { non_null: true } => format!("[{inner}!]!"),
                    Shape::Object => format!("{inner}!"),
                };
                let _ = writeln!(out, "  {name}: {shown}");
                if let Some(t) = def.ty {
                    queue.push(t);
                }
            }
            out.push_str("}\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drop(path: &str) -> SchemaChange {
        SchemaChange::Drop { path: path.into() }
    }

    fn rename(path: &str, to: &str) -> SchemaChange {
        SchemaChange::Rename {
            path: path.into(),
            to: to.into(),
        }
    }

    #[test]
    fn the_documented_sdl() {
        let sdl = Schema::new(&[]).unwrap().sdl(100);
        for line in [
            "type CPRCustom_PublicSectorPerson {",
            "  navne: [CPRCustom_PublicSectorNavn!]",
            "  mellemnavn: String",
            "  virkningtil: DateTime",
            "  nodes: [CPRCustom_PublicSectorPerson!]!",
            "  totalCount: Int!",
            "\"At most 100 values (MaxListSize).\"",
        ] {
            assert!(sdl.contains(line), "{line} in {sdl}");
        }
        // Each type once.
        assert_eq!(sdl.matches("type CPRCustom_PublicSectorNavn {").count(), 1);
    }

    #[test]
    fn changes_and_their_refusals() {
        let s = Schema::new(&[drop("navne.mellemnavn"), rename("koen", "kon")]).unwrap();
        let sdl = s.sdl(100);
        assert!(!sdl.contains("mellemnavn"), "{sdl}");
        assert!(
            sdl.contains("  kon: String") && !sdl.contains("koen"),
            "{sdl}"
        );
        assert!(s.field(&NAVN, "mellemnavn").is_none());
        assert!(s.field(&PERSON, "koen").is_none());
        assert_eq!(
            s.field(&PERSON, "kon").map(|(f, r)| (f.name, r)),
            Some(("koen", true))
        );
        assert_eq!(s.field(&NAVN, "fornavne").map(|(_, r)| r), Some(false));

        let gone = Schema::new(&[drop("navne")]).unwrap().sdl(100);
        assert!(!gone.contains("CPRCustom_PublicSectorNavn"), "{gone}");

        for bad in [
            vec![drop("navne.nope")],
            vec![drop("koen.x")],
            vec![drop("")],
            vec![rename("koen", "2x")],
            vec![rename("koen", "status")],
            vec![drop("koen"), rename("koen", "x")],
        ] {
            assert!(
                matches!(Schema::new(&bad), Err(Error::SchemaChange { .. })),
                "{bad:?}"
            );
        }
    }
}
