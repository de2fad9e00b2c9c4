//! The GraphQL endpoint `POST /CPR/custom/PublicSector/v1` (datafordeler.md 2).
//!
//! Owns the Bearer-token check and the access check of the token's IT-system and
//! credential, parsing with `async-graphql-parser` (a real parser, no pattern matching
//! on the text), validation against the served schema (`schema.rs`), and execution:
//! the filter `input: {personnummer: {personnummer: {in: [...]}}}` (or `eq`), literal
//! or from variables, fragments, `@skip`/`@include`, and only the selected fields in
//! the answer (`{"data": {"CPRCustom_PublicSectorPerson": {"nodes": [...]}}}`, plain
//! lists, lower-case `virkningfra`/`virkningtil`). As observed on Datafordeler, aliases
//! are rejected and `beskyttelser` must be selected ("Required fields are missing in
//! query selection: beskyttelser"). Unknown numbers are simply absent from `nodes`.
//! Datafordeler's limits (datafordeler.md 5.1) come from the sandbox's `Behaviour`: an
//! `in` list longer than `max_in_list` is refused, and `max_nodes` cuts `nodes` short
//! without a word (`totalCount` counts what is returned).
//!
//! GraphQL errors are answered with HTTP 200 and `{"errors": [{"message", "locations",
//! "extensions": {"code"}}]}` (the GraphQL-over-HTTP rule for `application/json`);
//! only a body that is not a GraphQL request at all gets 400, authentication 401 and a
//! missing data access 403 (or, when told, a 200 with the error).

use std::collections::HashMap;
use std::net::IpAddr;

use async_graphql_parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql_parser::{Pos, Positioned};
use async_graphql_value::{ConstValue, Name, Value};
use hyper::header::{HeaderValue, WWW_AUTHENTICATE};
use hyper::{HeaderMap, StatusCode};
use serde::Deserialize;

use crate::access::Verdict;
use crate::http::{self, JsonObject, Resp, json_str};
use crate::options::{Behaviour, NoAccessAnswer};
use crate::population::{Person, Population, Text, Timestamp};
use crate::schema::{
    BESKYTTELSE, CONNECTION, NAVN, PERSON, PERSONNUMMER, QUERY, Schema, TypeDef, required_fields,
};
use crate::server::Shared;
use crate::token::{Credential, TokenProblem};

/// Error codes in `extensions.code`. The `DAF-AUTH-*` ones are Datafordeler's as seen
/// in practice (datafordeler.md 5.2); the `DAF-GQL-*` numbers are the sandbox's own
/// invention in Datafordeler's pattern (the real ones are not published).
pub mod codes {
    /// No token at all, the IP not allowlisted, the credential not registered, or
    /// registered too recently (inert): "No authentication method found".
    pub const NO_AUTHENTICATION: &str = "DAF-AUTH-0005";
    /// Authenticated, but the IT-system (or its certificate) lacks the data access
    /// CustomPublicSectorPerson: "The current user is not authorized to access this
    /// resource".
    pub const NOT_AUTHORIZED: &str = "DAF-AUTH-0001";
    /// An unknown or expired Bearer token (as the `invalid_token` of the
    /// `WWW-Authenticate` challenge: renew the token).
    pub const INVALID_TOKEN: &str = "invalid_token";
    /// The query text does not parse.
    pub const SYNTAX: &str = "DAF-GQL-0001";
    /// The query parses but asks for something the schema does not allow.
    pub const VALIDATION: &str = "DAF-GQL-0002";
    /// An `in` list longer than the server takes (`MaxListSize`).
    pub const LIST_TOO_LONG: &str = "DAF-GQL-0003";
    /// The HTTP body is not a GraphQL request.
    pub const BAD_REQUEST: &str = "DAF-GQL-0004";
}

/// The message of `DAF-AUTH-0005` as Datafordeler words it (datafordeler.md 5.2).
const NO_AUTHENTICATION_MESSAGE: &str =
    "Access denied. No authentication method found. Please verify your use of API key or OAuth.";

/// The message of `DAF-AUTH-0001` as Datafordeler words it (datafordeler.md 5.2).
const NOT_AUTHORIZED_MESSAGE: &str = "The current user is not authorized to access this resource";

// ---- errors -----------------------------------------------------------------------

#[derive(Debug)]
struct GqlError {
    message: String,
    code: &'static str,
    pos: Option<Pos>,
}

fn validation(message: impl Into<String>, pos: Pos) -> GqlError {
    GqlError {
        message: message.into(),
        code: codes::VALIDATION,
        pos: Some(pos),
    }
}

fn errors_body(errors: &[GqlError]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"errors\":[");
    for (k, e) in errors.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        let mut o = JsonObject::open(&mut out);
        o.str("message", &e.message);
        if let Some(p) = e.pos {
            let line = p.line;
            let column = p.column;
            o.key("locations")
                .extend_from_slice(format!("[{{\"line\":{line},\"column\":{column}}}]").as_bytes());
        }
        let ext = o.key("extensions");
        let mut x = JsonObject::open(ext);
        x.str("code", e.code);
        x.close();
        o.close();
    }
    out.extend_from_slice(b"]}");
    out
}

fn error_response(status: StatusCode, message: &str, code: &'static str) -> Resp {
    http::json(
        status,
        errors_body(&[GqlError {
            message: message.to_owned(),
            code,
            pos: None,
        }]),
    )
}

fn unauthorized(message: &str, code: &'static str, challenge: &'static str) -> Resp {
    let mut r = error_response(StatusCode::UNAUTHORIZED, message, code);
    r.headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    r
}

// ---- the endpoint -------------------------------------------------------------------

/// Answers one GraphQL request (after faults and latency).
pub(crate) fn handle(shared: &Shared, ip: IpAddr, headers: &HeaderMap, body: &[u8]) -> Resp {
    let Some(token) = http::bearer(headers) else {
        return unauthorized(
            NO_AUTHENTICATION_MESSAGE,
            codes::NO_AUTHENTICATION,
            "Bearer realm=\"distribution\"",
        );
    };
    let holder = match shared.tokens.check(token) {
        Ok(h) => h,
        Err(TokenProblem::Expired) => {
            return unauthorized(
                "The access token has expired",
                codes::INVALID_TOKEN,
                "Bearer realm=\"distribution\", error=\"invalid_token\", error_description=\"The access token expired\"",
            );
        }
        Err(TokenProblem::Unknown) => {
            return unauthorized(
                "The access token is not valid",
                codes::INVALID_TOKEN,
                "Bearer realm=\"distribution\", error=\"invalid_token\", error_description=\"The access token is not valid\"",
            );
        }
    };
    let (thumbprint, secret) = match &holder.credential {
        Credential::Certificate(t) => (Some(t.as_str()), None),
        Credential::SharedSecret(id) => (None, Some(*id)),
    };
    let behaviour = shared.behaviour();
    match shared
        .access
        .check_token(ip, &holder.client_id, thumbprint, secret)
    {
        Verdict::Allowed => {}
        // Not `invalid_token`: a new token would not help.
        v @ (Verdict::Unauthorized | Verdict::Inert) => {
            tracing::info!(
                "sandbox: GraphQL from {ip} -> 401 ({})",
                if v == Verdict::Inert {
                    "the credential is registered but still inert"
                } else {
                    "credential not registered or IP not allowlisted"
                }
            );
            return unauthorized(
                NO_AUTHENTICATION_MESSAGE,
                codes::NO_AUTHENTICATION,
                "Bearer realm=\"distribution\"",
            );
        }
        Verdict::Forbidden => {
            let status = match behaviour.no_access_answer {
                NoAccessAnswer::Http403 => StatusCode::FORBIDDEN,
                NoAccessAnswer::GraphqlError => StatusCode::OK,
            };
            return error_response(status, NOT_AUTHORIZED_MESSAGE, codes::NOT_AUTHORIZED);
        }
    }
    match execute(&shared.population, &shared.schema, &behaviour, body) {
        Ok(out) => http::json(StatusCode::OK, out),
        Err(Failure::BadRequest(message)) => {
            error_response(StatusCode::BAD_REQUEST, &message, codes::BAD_REQUEST)
        }
        Err(Failure::Graphql(errors)) => http::json(StatusCode::OK, errors_body(&errors)),
    }
}

#[derive(Debug)]
enum Failure {
    /// Not a GraphQL request: HTTP 400.
    BadRequest(String),
    /// A GraphQL request with errors: HTTP 200 with `errors`.
    Graphql(Vec<GqlError>),
}

impl From<GqlError> for Failure {
    fn from(e: GqlError) -> Self {
        Failure::Graphql(vec![e])
    }
}

#[derive(Debug, Deserialize)]
struct GraphqlRequest {
    query: Option<String>,
    #[serde(default)]
    variables: Option<serde_json::Value>,
    #[serde(default, rename = "operationName")]
    operation_name: Option<String>,
}

/// Parses, validates and executes a request body against the served `schema` and the
/// limits of `behaviour`; the answer is the response body.
fn execute(
    pop: &Population,
    schema: &Schema,
    behaviour: &Behaviour,
    body: &[u8],
) -> Result<Vec<u8>, Failure> {
    let req: GraphqlRequest = serde_json::from_slice(body).map_err(|e| {
        Failure::BadRequest(format!(
            "The body must be a JSON object {{\"query\": ..., \"variables\": ...}}: {e}"
        ))
    })?;
    let Some(query) = req.query.filter(|q| !q.trim().is_empty()) else {
        return Err(Failure::BadRequest("The request has no query".into()));
    };
    let doc = async_graphql_parser::parse_query(&query).map_err(|e| GqlError {
        message: e.to_string(),
        code: codes::SYNTAX,
        pos: None,
    })?;
    let op = pick_operation(&doc, req.operation_name.as_deref())?;
    if op.node.ty != OperationType::Query {
        return Err(validation(
            format!("Only queries are supported, not {}", op.node.ty),
            op.pos,
        )
        .into());
    }

    // Variables: given, else the default, else null for a nullable type.
    let given = match req.variables {
        None | Some(serde_json::Value::Null) => serde_json::Map::new(),
        Some(serde_json::Value::Object(m)) => m,
        Some(_) => return Err(Failure::BadRequest("`variables` must be an object".into())),
    };
    let mut vars: HashMap<String, ConstValue> = HashMap::new();
    for def in &op.node.variable_definitions {
        let name = def.node.name.node.as_str();
        let value = match given.get(name) {
            Some(json) => ConstValue::from_json(json.clone()).map_err(|e| {
                validation(
                    format!("Variable `${name}` has an invalid value: {e}"),
                    def.pos,
                )
            })?,
            None => def.node.default_value().cloned().ok_or_else(|| {
                validation(
                    format!(
                        "Variable `${name}` of required type `{}` was not provided.",
                        def.node.var_type.node
                    ),
                    def.pos,
                )
            })?,
        };
        if value == ConstValue::Null && !def.node.var_type.node.nullable {
            return Err(validation(
                format!(
                    "Variable `${name}` of non-null type `{}` must not be null.",
                    def.node.var_type.node
                ),
                def.pos,
            )
            .into());
        }
        vars.insert(name.to_owned(), value);
    }

    let ctx = Ctx {
        doc: &doc,
        vars: &vars,
        schema,
    };
    let mut root = Vec::new();
    ctx.compile(&op.node.selection_set, &QUERY, &mut root, 0)?;

    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(b"{\"data\":");
    let mut data = JsonObject::open(&mut out);
    for sel in &root {
        let key = data.key(sel.out());
        match sel.name {
            "__typename" => json_str(key, QUERY.name),
            _ => {
                let numbers = filter_numbers(sel, behaviour.max_in_list)?;
                let mut found: Vec<u32> = Vec::with_capacity(numbers.len());
                for n in &numbers {
                    if let Some(i) = pop.find(n)
                        && !found.contains(&i)
                    {
                        found.push(i);
                    }
                }
                // Datafordeler 5.1: an answer may be cut short without saying so. The
                // first N in the server's order stay; `totalCount` follows the cut.
                if let Some(max) = behaviour.max_nodes {
                    found.truncate(usize::try_from(max).unwrap_or(usize::MAX));
                }
                connection(key, pop, &found, &sel.children);
            }
        }
    }
    data.close();
    out.push(b'}');
    Ok(out)
}

fn pick_operation<'d>(
    doc: &'d ExecutableDocument,
    name: Option<&str>,
) -> Result<&'d Positioned<async_graphql_parser::types::OperationDefinition>, Failure> {
    let missing = |m: String| {
        Failure::Graphql(vec![GqlError {
            message: m,
            code: codes::VALIDATION,
            pos: None,
        }])
    };
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Ok(op),
        (DocumentOperations::Multiple(ops), Some(n)) => ops
            .get(n)
            .ok_or_else(|| missing(format!("Unknown operation named \"{n}\"."))),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops
            .values()
            .next()
            .ok_or_else(|| missing("The document holds no operation".into())),
        (DocumentOperations::Multiple(_), None) => Err(missing(
            "The document holds several operations: name one with `operationName`".into(),
        )),
    }
}

/// A validated selection: a field of the schema (by its documented name) and what is
/// selected below it.
#[derive(Debug)]
struct Sel {
    name: &'static str,
    /// The key in the answer when the field is served under another name.
    renamed: Option<String>,
    args: Vec<(String, ConstValue, Pos)>,
    children: Vec<Sel>,
    pos: Pos,
}

impl Sel {
    /// The key of this field in the answer (aliases are refused, so it is the name the
    /// query used).
    fn out(&self) -> &str {
        self.renamed.as_deref().unwrap_or(self.name)
    }
}

struct Ctx<'a> {
    doc: &'a ExecutableDocument,
    vars: &'a HashMap<String, ConstValue>,
    schema: &'a Schema,
}

impl Ctx<'_> {
    fn resolve(&self, value: &Positioned<Value>) -> Result<ConstValue, GqlError> {
        value.node.clone().into_const_with(|name: Name| {
            self.vars
                .get(name.as_str())
                .cloned()
                .ok_or_else(|| validation(format!("Variable `${name}` is not defined."), value.pos))
        })
    }

    /// `@skip(if:)` / `@include(if:)`; any other directive is refused.
    fn included(
        &self,
        directives: &[Positioned<async_graphql_parser::types::Directive>],
    ) -> Result<bool, GqlError> {
        let mut keep = true;
        for d in directives {
            let name = d.node.name.node.as_str();
            if name != "skip" && name != "include" {
                return Err(validation(format!("Unknown directive \"@{name}\"."), d.pos));
            }
            let cond = d
                .node
                .arguments
                .iter()
                .find(|(n, _)| n.node == "if")
                .ok_or_else(|| validation(format!("Directive \"@{name}\" needs `if`."), d.pos))?;
            let value = match self.resolve(&cond.1)? {
                ConstValue::Boolean(b) => b,
                _ => {
                    return Err(validation(
                        format!("Directive \"@{name}\": `if` must be a Boolean."),
                        d.pos,
                    ));
                }
            };
            if (name == "skip") == value {
                keep = false;
            }
        }
        Ok(keep)
    }

    fn compile(
        &self,
        set: &Positioned<SelectionSet>,
        ty: &'static TypeDef,
        out: &mut Vec<Sel>,
        depth: usize,
    ) -> Result<(), GqlError> {
        if depth > 16 {
            return Err(validation("The query nests fragments too deeply.", set.pos));
        }
        for item in &set.node.items {
            if !self.included(item.node.directives())? {
                continue;
            }
            match &item.node {
                Selection::Field(field) => {
                    let f = &field.node;
                    if let Some(alias) = &f.alias {
                        return Err(validation(
                            format!("Aliases are not allowed in query selection: {}", alias.node),
                            alias.pos,
                        ));
                    }
                    let name = f.name.node.as_str();
                    if name == "__typename" {
                        if !f.selection_set.node.items.is_empty() {
                            return Err(validation(
                                "`__typename` cannot have a selection of subfields.",
                                field.pos,
                            ));
                        }
                        merge(
                            out,
                            Sel {
                                name: "__typename",
                                renamed: None,
                                args: Vec::new(),
                                children: Vec::new(),
                                pos: field.pos,
                            },
                        );
                        continue;
                    }
                    let Some((def, renamed)) = self.schema.field(ty, name) else {
                        return Err(validation(
                            format!(
                                "The field `{name}` does not exist on the type `{}`.",
                                ty.name
                            ),
                            field.pos,
                        ));
                    };
                    let mut args = Vec::new();
                    for (arg_name, arg_value) in &f.arguments {
                        if !def.args.contains(&arg_name.node.as_str()) {
                            return Err(validation(
                                format!(
                                    "The argument `{}` does not exist on the field `{name}`.",
                                    arg_name.node
                                ),
                                arg_name.pos,
                            ));
                        }
                        args.push((
                            arg_name.node.to_string(),
                            self.resolve(arg_value)?,
                            arg_value.pos,
                        ));
                    }
                    let mut children = Vec::new();
                    match def.ty {
                        None if !f.selection_set.node.items.is_empty() => {
                            return Err(validation(
                                format!(
                                    "`{name}` is a leaf field and cannot have a selection of subfields."
                                ),
                                field.pos,
                            ));
                        }
                        None => {}
                        Some(sub) => {
                            if f.selection_set.node.items.is_empty() {
                                return Err(validation(
                                    format!(
                                        "`{name}` of type `{}` must have a selection of subfields.",
                                        sub.name
                                    ),
                                    field.pos,
                                ));
                            }
                            self.compile(&f.selection_set, sub, &mut children, depth)?;
                            // Required by their documented names, reported by their
                            // served ones; a dropped field cannot be required.
                            let missing: Vec<&str> = required_fields(sub)
                                .iter()
                                .filter_map(|r| {
                                    let def = sub.fields.iter().find(|d| d.name == *r)?;
                                    let served = self.schema.served(sub, def)?;
                                    (!children.iter().any(|c| c.name == *r)).then_some(served)
                                })
                                .collect();
                            if !missing.is_empty() {
                                return Err(validation(
                                    format!(
                                        "Required fields are missing in query selection: {}",
                                        missing.join(", ")
                                    ),
                                    f.selection_set.pos,
                                ));
                            }
                        }
                    }
                    merge(
                        out,
                        Sel {
                            name: def.name,
                            renamed: renamed.then(|| name.to_owned()),
                            args,
                            children,
                            pos: field.pos,
                        },
                    );
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    let Some(frag) = self.doc.fragments.get(name) else {
                        return Err(validation(
                            format!("Unknown fragment \"{name}\"."),
                            spread.pos,
                        ));
                    };
                    if frag.node.type_condition.node.on.node != ty.name {
                        return Err(validation(
                            format!(
                                "Fragment \"{name}\" cannot be spread here: it is on `{}`, not `{}`.",
                                frag.node.type_condition.node.on.node, ty.name
                            ),
                            spread.pos,
                        ));
                    }
                    self.compile(&frag.node.selection_set, ty, out, depth + 1)?;
                }
                Selection::InlineFragment(inline) => {
                    if let Some(cond) = &inline.node.type_condition
                        && cond.node.on.node != ty.name
                    {
                        {
                            return Err(validation(
                                format!(
                                    "An inline fragment on `{}` cannot be used on `{}`.",
                                    cond.node.on.node, ty.name
                                ),
                                inline.pos,
                            ));
                        }
                    }
                    self.compile(&inline.node.selection_set, ty, out, depth + 1)?;
                }
            }
        }
        Ok(())
    }
}

/// Adds a selection, merging it with an earlier one of the same field.
fn merge(out: &mut Vec<Sel>, sel: Sel) {
    if let Some(existing) = out.iter_mut().find(|s| s.name == sel.name) {
        for child in sel.children {
            merge(&mut existing.children, child);
        }
    } else {
        out.push(sel);
    }
}

/// The CPR numbers of `input: {personnummer: {personnummer: {in: [...] | eq: "..."}}}`,
/// at most `max_in` of them.
fn filter_numbers(sel: &Sel, max_in: u32) -> Result<Vec<String>, GqlError> {
    let shape =
        "the filter must be `input: {personnummer: {personnummer: {in: [\"DDMMYYSSSS\", ...]}}}`";
    let Some((_, input, pos)) = sel.args.iter().find(|(n, _, _)| n == "input") else {
        return Err(validation(
            format!("A filter on personnummer is required: {shape}"),
            sel.pos,
        ));
    };
    let pos = *pos;
    let object = |v: &ConstValue, what: &str| match v {
        ConstValue::Object(m) => {
            if let Some(k) = m.keys().find(|k| k.as_str() != what) {
                Err(validation(
                    format!("The filter field `{k}` is not supported: {shape}"),
                    pos,
                ))
            } else {
                m.get(what)
                    .cloned()
                    .ok_or_else(|| validation(format!("Missing `{what}`: {shape}"), pos))
            }
        }
        _ => Err(validation(format!("Expected an object: {shape}"), pos)),
    };
    let inner = object(&object(input, "personnummer")?, "personnummer")?;
    let ConstValue::Object(ops) = inner else {
        return Err(validation(format!("Expected an object: {shape}"), pos));
    };
    let mut numbers = Vec::new();
    for (op, value) in ops {
        let string = |v: ConstValue| match v {
            ConstValue::String(s) => Ok(s),
            _ => Err(validation(
                format!("`{op}` takes strings (CPR numbers as \"DDMMYYSSSS\")"),
                pos,
            )),
        };
        match (op.as_str(), value) {
            ("in", ConstValue::List(items)) => {
                for item in items {
                    numbers.push(string(item)?);
                }
            }
            // Input coercion: a single value where a list is expected.
            ("in" | "eq", v) => numbers.push(string(v)?),
            (other, _) => {
                return Err(validation(
                    format!("The filter operation `{other}` is not supported; use `in` or `eq`"),
                    pos,
                ));
            }
        }
    }
    if numbers.len() > usize::try_from(max_in).unwrap_or(usize::MAX) {
        // Never echo the values: they are CPR numbers.
        return Err(GqlError {
            message: format!(
                "The list `in` of `personnummer` holds {} values; at most {max_in} are allowed (MaxListSize)",
                numbers.len()
            ),
            code: codes::LIST_TOO_LONG,
            pos: Some(pos),
        });
    }
    Ok(numbers)
}

// ---- rendering ------------------------------------------------------------------

fn connection(out: &mut Vec<u8>, pop: &Population, found: &[u32], sels: &[Sel]) {
    let mut o = JsonObject::open(out);
    for sel in sels {
        let v = o.key(sel.out());
        match sel.name {
            "nodes" => {
                v.push(b'[');
                for (k, &i) in found.iter().enumerate() {
                    if k > 0 {
                        v.push(b',');
                    }
                    person(v, &pop.person(i), &sel.children);
                }
                v.push(b']');
            }
            "totalCount" => v.extend_from_slice(found.len().to_string().as_bytes()),
            _ => json_str(v, CONNECTION.name),
        }
    }
    o.close();
}

fn text(out: &mut Vec<u8>, t: &Text) {
    match t {
        Text::Value(s) => json_str(out, s),
        Text::Absent | Text::Null => out.extend_from_slice(b"null"),
    }
}

fn time(out: &mut Vec<u8>, t: Option<&Timestamp>) {
    match t {
        Some(t) => t.write_json(out),
        None => out.extend_from_slice(b"null"),
    }
}

fn list<T>(out: &mut Vec<u8>, items: &[T], mut each: impl FnMut(&mut Vec<u8>, &T)) {
    out.push(b'[');
    for (k, item) in items.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        each(out, item);
    }
    out.push(b']');
}

fn person(out: &mut Vec<u8>, p: &Person, sels: &[Sel]) {
    let mut o = JsonObject::open(out);
    for sel in sels {
        let v = o.key(sel.out());
        match sel.name {
            "id" => json_str(v, &p.id),
            "foedselsdato" => time(v, Some(&p.foedselsdato)),
            "koen" => json_str(v, p.koen),
            "status" => json_str(v, p.status),
            "statusdato" => time(v, Some(&p.statusdato)),
            "personnumre" => list(v, &p.personnumre, |out, n| {
                let mut o = JsonObject::open(out);
                for s in &sel.children {
                    let v = o.key(s.out());
                    match s.name {
                        "personnummer" => json_str(v, &n.personnummer),
                        "status" => json_str(v, n.status.as_str()),
                        "virkningfra" => time(v, Some(&n.virkning_fra)),
                        "virkningtil" => time(v, n.virkning_til.as_ref()),
                        _ => json_str(v, PERSONNUMMER.name),
                    }
                }
                o.close();
            }),
            "navne" => list(v, &p.navne, |out, n| {
                let mut o = JsonObject::open(out);
                for s in &sel.children {
                    let v = o.key(s.out());
                    match s.name {
                        "fornavne" => text(v, &n.fornavne),
                        "mellemnavn" => text(v, &n.mellemnavn),
                        "efternavn" => text(v, &n.efternavn),
                        "adresseringsnavn" => text(v, &n.adresseringsnavn),
                        "status" => json_str(v, n.status.as_str()),
                        "virkningfra" => time(v, Some(&n.virkning_fra)),
                        "virkningtil" => time(v, n.virkning_til.as_ref()),
                        _ => json_str(v, NAVN.name),
                    }
                }
                o.close();
            }),
            "beskyttelser" => list(v, &p.beskyttelser, |out, b| {
                let mut o = JsonObject::open(out);
                for s in &sel.children {
                    let v = o.key(s.out());
                    match s.name {
                        "beskyttelsestype" => json_str(v, b.beskyttelsestype),
                        // The registration is current; whether it is in force is
                        // decided by the dates.
                        "status" => json_str(v, "aktuel"),
                        "virkningfra" => time(v, Some(&b.virkning_fra)),
                        "virkningtil" => time(v, b.virkning_til.as_ref()),
                        _ => json_str(v, BESKYTTELSE.name),
                    }
                }
                o.close();
            }),
            _ => json_str(v, PERSON.name),
        }
    }
    o.close();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pop: &Population, body: serde_json::Value) -> serde_json::Value {
        let schema = Schema::new(&[]).unwrap();
        let out = match execute(
            pop,
            &schema,
            &Behaviour::default(),
            body.to_string().as_bytes(),
        ) {
            Ok(out) => out,
            Err(Failure::Graphql(e)) => errors_body(&e),
            Err(Failure::BadRequest(m)) => panic!("bad request: {m}"),
        };
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn selects_only_what_is_asked_and_checks_the_rules() {
        let pop = Population::new(100, 9);
        let cpr = pop.cpr(5);
        let q = "query($cpr:[String!]!){CPRCustom_PublicSectorPerson(input:{personnummer:{personnummer:{in:$cpr}}}){nodes{id navne{fornavne status} beskyttelser{beskyttelsestype}}}}";
        let v = run(
            &pop,
            serde_json::json!({"query": q, "variables": {"cpr": [cpr, pop.unknown_cpr(0)]}}),
        );
        let nodes = v["data"]["CPRCustom_PublicSectorPerson"]["nodes"]
            .as_array()
            .unwrap();
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].as_object().unwrap().len(), 3);
        assert!(nodes[0]["navne"][0].get("efternavn").is_none());

        let literal = format!(
            "{{CPRCustom_PublicSectorPerson(input:{{personnummer:{{personnummer:{{in:[\"{cpr}\"]}}}}}}){{nodes{{id}}}}}}"
        );
        let v = run(&pop, serde_json::json!({"query": literal}));
        assert_eq!(
            v["errors"][0]["message"],
            "Required fields are missing in query selection: beskyttelser"
        );
        let aliased = q.replace("nodes{id", "nodes{nummer: id");
        let v = run(
            &pop,
            serde_json::json!({"query": aliased, "variables": {"cpr": [cpr]}}),
        );
        assert!(
            v["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("Aliases"),
            "{v}"
        );
        let unknown = q.replace("nodes{id", "nodes{cpr");
        let v = run(
            &pop,
            serde_json::json!({"query": unknown, "variables": {"cpr": [cpr]}}),
        );
        assert_eq!(v["errors"][0]["extensions"]["code"], codes::VALIDATION);
        let v = run(&pop, serde_json::json!({"query": q}));
        assert!(
            v["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("was not provided")
        );
        let v = run(
            &pop,
            serde_json::json!({"query": "{ CPRCustom_PublicSectorPerson("}),
        );
        assert_eq!(v["errors"][0]["extensions"]["code"], codes::SYNTAX);
    }

    #[test]
    fn fragments_and_directives() {
        let pop = Population::new(100, 9);
        let cpr = pop.cpr(7);
        let q = "query Q($c:String!,$more:Boolean!){CPRCustom_PublicSectorPerson(input:{personnummer:{personnummer:{eq:$c}}}){__typename totalCount nodes{...P beskyttelser{virkningtil} koen @include(if:$more)}}} fragment P on CPRCustom_PublicSectorPerson{status ... on CPRCustom_PublicSectorPerson{navne{efternavn}}}";
        let v = run(
            &pop,
            serde_json::json!({"query": q, "variables": {"c": cpr, "more": false}}),
        );
        let conn = &v["data"]["CPRCustom_PublicSectorPerson"];
        assert_eq!(conn["totalCount"], 1, "{v}");
        let node = &conn["nodes"][0];
        assert!(node.get("koen").is_none());
        assert!(node["navne"].is_array());
        assert_eq!(node["status"], pop.person(7).status);
    }
}
