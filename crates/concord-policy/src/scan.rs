//! Static checks over the parsed policies.
//!
//! regorus only reports a call to an unknown function when evaluation
//! reaches it ("could not find function ..."), so a typo in a rarely taken
//! branch would otherwise surface as a runtime error on some later request.
//! This module walks the parsed modules once at load and checks every call
//! against the functions the bundle defines and the builtins regorus
//! registers (`regorus::unstable::BUILTINS`). It also lists declared rules
//! and the `test_` rules of test packages.
//!
//! Everything here uses regorus's `unstable` AST; it is the only module that
//! does, so a regorus upgrade that changes the AST breaks the build here and
//! nowhere else. Unknown AST shapes are refused (fail closed).

use std::collections::{BTreeMap, BTreeSet};

use regorus::Value;
use regorus::unstable::{
    AssignOp, BUILTINS, Expr, Literal, Module, NodeRef, Query, Rule, RuleHead, Span,
};

use crate::error::PolicyError;

/// Builtins whose one call does work set by its argument *values* (a
/// million-number range from two small numbers), which regorus's timer
/// cannot interrupt. Every other builtin's work is bounded by the size of
/// its arguments, which the policy's input and data bound.
const UNBOUNDED_BUILTINS: &[&str] = &["numbers.range", "numbers.range_step"];

/// A parsed module as regorus hands it out.
pub(crate) type ModuleRef = NodeRef<Module>;

/// The dotted path of a static reference (`a.b["c"]` is `a.b.c`), or `None`
/// if it is not one.
fn path_of(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Var {
            value: Value::String(name),
            ..
        } => Some(name.to_string()),
        Expr::RefDot {
            refr,
            field: (_, Value::String(field)),
            ..
        } => Some(format!("{}.{field}", path_of(refr)?)),
        Expr::RefBrack { refr, index, .. } => match index.as_ref() {
            Expr::String {
                value: Value::String(field),
                ..
            } => Some(format!("{}.{field}", path_of(refr)?)),
            _ => None,
        },
        _ => None,
    }
}

/// The package of a module as `data.a.b`.
fn package_path(module: &Module) -> Option<String> {
    path_of(&module.package.refr).map(|path| format!("data.{path}"))
}

fn file_of(span: &Span) -> String {
    span.source.get_path().clone()
}

/// A module's imports with static targets: (the name it is used by, the
/// imported path), `import data.a.b as c` giving `("c", "data.a.b")`.
fn imports(module: &Module) -> impl Iterator<Item = (String, String)> + '_ {
    module.imports.iter().filter_map(|import| {
        let target = path_of(&import.refr)?;
        let alias = match &import.r#as {
            Some(span) => span.text().to_owned(),
            None => target.rsplit('.').next().unwrap_or_default().to_owned(),
        };
        Some((alias, target))
    })
}

/// The head reference of a rule and, for functions, its arguments.
fn rule_head(rule: &Rule) -> (&Expr, bool) {
    match rule {
        Rule::Spec { head, .. } => match head {
            RuleHead::Compr { refr, .. } | RuleHead::Set { refr, .. } => (refr, false),
            RuleHead::Func { refr, .. } => (refr, true),
        },
        Rule::Default { refr, args, .. } => (refr, !args.is_empty()),
    }
}

/// The first component of a rule head (`decision` for `decision.allow`).
fn rule_root(rule: &Rule) -> Option<String> {
    let (head, _) = rule_head(rule);
    let path = path_of(head)?;
    Some(path.split('.').next().unwrap_or_default().to_owned())
}

/// Every `data.<package>.<rule root>` declared by the modules.
pub(crate) fn declared_rules(modules: &[ModuleRef]) -> BTreeSet<String> {
    let mut rules = BTreeSet::new();
    for module in modules {
        let Some(package) = package_path(module) else {
            continue;
        };
        for rule in &module.policy {
            if let Some(root) = rule_root(rule) {
                rules.insert(format!("{package}.{root}"));
            }
        }
    }
    rules
}

/// A policy unit test: a complete rule named `test_*` in a test file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TestRule {
    /// Package without the `data.` prefix, e.g. `concord.ingest_test`.
    pub(crate) package: String,
    /// Rule name, e.g. `test_police_may_push_police`.
    pub(crate) name: String,
}

impl TestRule {
    pub(crate) fn rule_path(&self) -> String {
        format!("data.{}.{}", self.package, self.name)
    }
}

/// The `test_` rules of modules loaded from `*_test.rego` files, sorted and
/// without duplicates (a test may have several bodies).
pub(crate) fn test_rules(modules: &[ModuleRef]) -> Vec<TestRule> {
    let mut tests = BTreeSet::new();
    for module in modules {
        if !file_of(module.package.refr.span()).ends_with("_test.rego") {
            continue;
        }
        let Some(package) = path_of(&module.package.refr) else {
            continue;
        };
        for rule in &module.policy {
            let (head, is_function) = rule_head(rule);
            if is_function || !matches!(head, Expr::Var { .. }) {
                continue;
            }
            if let Some(name) = path_of(head).filter(|name| name.starts_with("test_")) {
                tests.insert(TestRule {
                    package: package.clone(),
                    name,
                });
            }
        }
    }
    tests.into_iter().collect()
}

/// What a module's calls are resolved against.
struct Scope<'a> {
    file: String,
    package: String,
    /// Import alias -> imported `data.` path.
    imports: BTreeMap<String, String>,
    /// Every function the bundle defines, as `data.<package>.<name>`.
    functions: &'a BTreeSet<String>,
}

/// Why regorus 0.14's VM could decide a rule of `modules` differently from
/// the interpreter, for a shape found here (with the rule's `file:line`);
/// `None` if no rule has one. A bundle with one is interpreted. The shapes:
///
/// - a rule with an `else` whose body (or value) before the last one may
///   iterate: the VM ends the rule when that body fails instead of trying
///   the `else`. "May iterate": a `some` statement, or a reference whose
///   index holds a variable the body has not bound with `:=` (`xs[_]`,
///   `xs[x]`, `xs[[a, b]]`), anywhere outside a comprehension, an `every`
///   domain included. Conservative: `=` binds nothing, and iteration under
///   `not` counts. Checked against the VM: a failed `every` and an
///   iterating last body are evaluated as the interpreter does.
/// - a complete rule or function defined more than once: where two
///   definitions give different values the VM answers undefined (so `not`
///   of it holds) and the interpreter fails the decision.
/// - a key-value membership (`k, v in xs`): the VM's compiler drops the
///   key, so it holds when any element equals `v`.
/// - a default function (`default f(_) := x`): called with an undefined
///   argument, the VM answers the default where the interpreter answers
///   undefined.
///
/// Other differences (found by reading regorus 0.14.1's VM; none is in
/// the shipped bundle) depend on the data or the input as much as on the
/// shape, so the load-time comparison over the bundle's own inputs
/// (`differential`) finds them instead.
pub(crate) fn vm_divergence(modules: &[ModuleRef]) -> Option<String> {
    for module in modules {
        for rule in &module.policy {
            if let Rule::Default { args, span, .. } = rule.as_ref()
                && !args.is_empty()
            {
                return Some(format!(
                    "{}:{}: a default function",
                    file_of(span),
                    span.line
                ));
            }
            let mut keyed: Option<Span> = None;
            let _ = walk_rule(rule, &mut |expr| {
                if let Expr::Membership {
                    key: Some(_), span, ..
                } = expr
                {
                    keyed.get_or_insert_with(|| span.clone());
                }
                Ok(())
            });
            if let Some(span) = keyed {
                return Some(format!(
                    "{}:{}: a key-value membership (k, v in xs)",
                    file_of(&span),
                    span.line
                ));
            }
        }
    }
    for module in modules {
        let package = package_path(module);
        // Variables that are not iteration: the package's rules, imports,
        // `input` and `data`.
        let mut globals: BTreeSet<String> = modules
            .iter()
            .filter(|m| package_path(m) == package)
            .flat_map(|m| m.policy.iter().filter_map(|r| rule_root(r)))
            .collect();
        globals.extend(["input".to_owned(), "data".to_owned()]);
        globals.extend(imports(module).map(|(alias, _)| alias));
        for rule in &module.policy {
            let Rule::Spec {
                head, bodies, span, ..
            } = rule.as_ref()
            else {
                continue;
            };
            if bodies.len() < 2 {
                continue;
            }
            // The first body's value is the head's; each else body's is
            // its own.
            let head_value = match head {
                RuleHead::Compr { assign, .. } | RuleHead::Func { assign, .. } => {
                    assign.as_ref().map(|a| &a.value)
                }
                RuleHead::Set { .. } => None,
            };
            let before_last = &bodies[..bodies.len() - 1];
            let values = head_value.into_iter().chain(
                before_last
                    .iter()
                    .skip(1)
                    .filter_map(|b| b.assign.as_ref().map(|a| &a.value)),
            );
            if before_last
                .iter()
                .any(|b| query_iterates(&b.query, &globals))
                || values.into_iter().any(|v| expr_iterates(v, &globals))
            {
                return Some(format!(
                    "{}:{}: a rule with an else iterates before its last body",
                    file_of(span),
                    span.line
                ));
            }
        }
    }
    // Complete rules and functions, by package and path, over all modules.
    let mut defined = BTreeSet::new();
    for module in modules {
        let package = package_path(module);
        for rule in &module.policy {
            if let Rule::Spec {
                head: RuleHead::Compr { refr, .. } | RuleHead::Func { refr, .. },
                span,
                ..
            } = rule.as_ref()
                && let Some(path) = path_of(refr)
                && !defined.insert((package.clone(), path.clone()))
            {
                return Some(format!(
                    "{}:{}: rule {path} has more than one definition",
                    file_of(span),
                    span.line
                ));
            }
        }
    }
    None
}

/// Whether a query's own statements may iterate (see [`vm_divergence`]).
fn query_iterates(query: &Query, globals: &BTreeSet<String>) -> bool {
    let mut bound = globals.clone();
    for stmt in &query.stmts {
        match &stmt.literal {
            Literal::SomeVars { .. } | Literal::SomeIn { .. } => return true,
            // A universal check, not an iteration the body continues with
            // (the VM tries the `else` after a failed `every`); a loop in
            // its domain is the body's own.
            Literal::Every { domain, .. } => {
                if expr_iterates(domain, &bound) {
                    return true;
                }
            }
            Literal::Expr { expr, .. } => match expr.as_ref() {
                Expr::AssignExpr {
                    op: AssignOp::ColEq,
                    lhs,
                    rhs,
                    ..
                } if matches!(lhs.as_ref(), Expr::Var { .. }) => {
                    if expr_iterates(rhs, &bound) {
                        return true;
                    }
                    bound.insert(lhs.span().text().to_owned());
                }
                other => {
                    if expr_iterates(other, &bound) {
                        return true;
                    }
                }
            },
            Literal::NotExpr { expr, .. } => {
                if expr_iterates(expr, &bound) {
                    return true;
                }
            }
        }
    }
    false
}

/// Whether `expr` holds a reference indexed by an unbound variable,
/// outside comprehensions (their loops are their own).
fn expr_iterates(expr: &Expr, bound: &BTreeSet<String>) -> bool {
    matches!(expr, Expr::RefBrack { index, .. } if has_unbound_var(index, bound))
        || any_operand(expr, &mut |e| expr_iterates(e, bound))
}

/// Whether `expr` mentions a variable not in `bound`, outside
/// comprehensions.
fn has_unbound_var(expr: &Expr, bound: &BTreeSet<String>) -> bool {
    matches!(expr, Expr::Var { span, .. } if !bound.contains(span.text()))
        || any_operand(expr, &mut |e| has_unbound_var(e, bound))
}

/// Whether `f` holds for an operand of `expr`: its sub-expressions, but
/// not a called function's name nor what a comprehension holds.
fn any_operand(expr: &Expr, f: &mut dyn FnMut(&Expr) -> bool) -> bool {
    match expr {
        Expr::RefBrack { refr, index, .. } => f(refr) || f(index),
        Expr::RefDot { refr, .. } => f(refr),
        Expr::Array { items, .. } | Expr::Set { items, .. } => items.iter().any(|i| f(i)),
        Expr::Object { fields, .. } => fields.iter().any(|(_, k, v)| f(k) || f(v)),
        Expr::Call { params, .. } => params.iter().any(|p| f(p)),
        Expr::UnaryExpr { expr, .. } => f(expr),
        Expr::BinExpr { lhs, rhs, .. }
        | Expr::BoolExpr { lhs, rhs, .. }
        | Expr::ArithExpr { lhs, rhs, .. }
        | Expr::AssignExpr { lhs, rhs, .. } => f(lhs) || f(rhs),
        Expr::Membership {
            key,
            value,
            collection,
            ..
        } => key.as_ref().is_some_and(|k| f(k)) || f(value) || f(collection),
        _ => false,
    }
}

/// Whether any rule of `modules` calls `print`.
pub(crate) fn calls_print(modules: &[ModuleRef]) -> bool {
    let mut found = false;
    for module in modules {
        for rule in &module.policy {
            let _ = walk_rule(rule, &mut |expr| {
                if let Expr::Call { fcn, .. } = expr
                    && path_of(fcn).as_deref() == Some("print")
                {
                    found = true;
                }
                Ok(())
            });
        }
    }
    found
}

/// Check every call in `modules`: each must name a function defined in the
/// modules, `print`, or a builtin regorus registers, called with its arity
/// (or arity + 1, the output-argument form).
pub(crate) fn check_calls(modules: &[ModuleRef]) -> Result<(), PolicyError> {
    let mut functions = BTreeSet::new();
    for module in modules {
        let Some(package) = package_path(module) else {
            continue;
        };
        for rule in &module.policy {
            let (head, is_function) = rule_head(rule);
            if let (true, Some(name)) = (is_function, path_of(head)) {
                functions.insert(format!("{package}.{name}"));
            }
        }
    }

    for module in modules {
        let file = file_of(module.package.refr.span());
        let package = package_path(module).ok_or_else(|| PolicyError::Parse {
            file: file.clone(),
            message: "package is not a static reference".to_owned(),
        })?;
        let imports: BTreeMap<String, String> = imports(module)
            .filter(|(_, target)| target.starts_with("data."))
            .collect();
        let scope = Scope {
            file,
            package,
            imports,
            functions: &functions,
        };
        for rule in &module.policy {
            walk_rule(rule, &mut |expr| scope.check(expr))?;
        }
    }
    Ok(())
}

impl Scope<'_> {
    fn error(&self, span: &Span, function: String, problem: String) -> PolicyError {
        PolicyError::UnsupportedCall {
            file: self.file.clone(),
            line: span.line,
            col: span.col,
            function,
            problem,
        }
    }

    fn check(&self, expr: &Expr) -> Result<(), PolicyError> {
        let Expr::Call {
            span, fcn, params, ..
        } = expr
        else {
            return Ok(());
        };
        let Some(written) = path_of(fcn) else {
            return Err(self.error(
                span,
                fcn.span().text().to_owned(),
                "the function is not a static name".to_owned(),
            ));
        };
        // Resolve a leading import alias, as the interpreter does.
        let name = match written.split_once('.') {
            Some((root, rest)) if root != "data" => match self.imports.get(root) {
                Some(target) => format!("{target}.{rest}"),
                None => written,
            },
            _ => written,
        };
        if name.starts_with("data.") {
            if self.functions.contains(&name) {
                return Ok(());
            }
            return Err(self.error(
                span,
                name,
                "no such function is defined in the bundle".to_owned(),
            ));
        }
        if name == "print" || self.functions.contains(&format!("{}.{name}", self.package)) {
            return Ok(());
        }
        if UNBOUNDED_BUILTINS.contains(&name.as_str()) {
            return Err(self.error(
                span,
                name,
                "one call can run for as long as its arguments ask (decisions are evaluated \
                 inline and regorus's timer only stops evaluation between steps); \
                 iterate over data instead"
                    .to_owned(),
            ));
        }
        match BUILTINS.get(name.as_str()) {
            Some(&(_, arity)) => {
                let arity = usize::from(arity);
                if params.len() == arity || params.len() == arity + 1 {
                    Ok(())
                } else {
                    Err(self.error(
                        span,
                        name,
                        format!(
                            "the builtin takes {arity} argument(s), called with {}",
                            params.len()
                        ),
                    ))
                }
            }
            None => Err(self.error(
                span,
                name,
                "not a builtin regorus supports, nor a function defined in the bundle".to_owned(),
            )),
        }
    }
}

type Visit<'v> = dyn FnMut(&Expr) -> Result<(), PolicyError> + 'v;

fn walk_rule(rule: &Rule, visit: &mut Visit<'_>) -> Result<(), PolicyError> {
    match rule {
        Rule::Spec { head, bodies, .. } => {
            match head {
                RuleHead::Compr { refr, assign, .. } => {
                    walk_expr(refr, visit)?;
                    if let Some(assign) = assign {
                        walk_expr(&assign.value, visit)?;
                    }
                }
                RuleHead::Set { refr, key, .. } => {
                    walk_expr(refr, visit)?;
                    if let Some(key) = key {
                        walk_expr(key, visit)?;
                    }
                }
                RuleHead::Func {
                    refr, args, assign, ..
                } => {
                    walk_expr(refr, visit)?;
                    for arg in args {
                        walk_expr(arg, visit)?;
                    }
                    if let Some(assign) = assign {
                        walk_expr(&assign.value, visit)?;
                    }
                }
            }
            for body in bodies {
                if let Some(assign) = &body.assign {
                    walk_expr(&assign.value, visit)?;
                }
                walk_query(&body.query, visit)?;
            }
        }
        Rule::Default {
            refr, args, value, ..
        } => {
            walk_expr(refr, visit)?;
            for arg in args {
                walk_expr(arg, visit)?;
            }
            walk_expr(value, visit)?;
        }
    }
    Ok(())
}

fn walk_query(query: &Query, visit: &mut Visit<'_>) -> Result<(), PolicyError> {
    for stmt in &query.stmts {
        match &stmt.literal {
            Literal::SomeVars { .. } => {}
            Literal::SomeIn {
                key,
                value,
                collection,
                ..
            } => {
                if let Some(key) = key {
                    walk_expr(key, visit)?;
                }
                walk_expr(value, visit)?;
                walk_expr(collection, visit)?;
            }
            Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => walk_expr(expr, visit)?,
            Literal::Every { domain, query, .. } => {
                walk_expr(domain, visit)?;
                walk_query(query, visit)?;
            }
        }
        for with in &stmt.with_mods {
            walk_expr(&with.refr, visit)?;
            walk_expr(&with.r#as, visit)?;
        }
    }
    Ok(())
}

fn walk_expr(expr: &Expr, visit: &mut Visit<'_>) -> Result<(), PolicyError> {
    visit(expr)?;
    match expr {
        Expr::String { .. }
        | Expr::RawString { .. }
        | Expr::Number { .. }
        | Expr::Bool { .. }
        | Expr::Null { .. }
        | Expr::Var { .. } => {}
        Expr::Array { items, .. } | Expr::Set { items, .. } => {
            for item in items {
                walk_expr(item, visit)?;
            }
        }
        Expr::Object { fields, .. } => {
            for (_, key, value) in fields {
                walk_expr(key, visit)?;
                walk_expr(value, visit)?;
            }
        }
        Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
            walk_expr(term, visit)?;
            walk_query(query, visit)?;
        }
        Expr::ObjectCompr {
            key, value, query, ..
        } => {
            walk_expr(key, visit)?;
            walk_expr(value, visit)?;
            walk_query(query, visit)?;
        }
        Expr::Call { fcn, params, .. } => {
            walk_expr(fcn, visit)?;
            for param in params {
                walk_expr(param, visit)?;
            }
        }
        Expr::UnaryExpr { expr, .. } => walk_expr(expr, visit)?,
        Expr::RefDot { refr, .. } => walk_expr(refr, visit)?,
        Expr::RefBrack { refr, index, .. } => {
            walk_expr(refr, visit)?;
            walk_expr(index, visit)?;
        }
        Expr::BinExpr { lhs, rhs, .. }
        | Expr::BoolExpr { lhs, rhs, .. }
        | Expr::ArithExpr { lhs, rhs, .. }
        | Expr::AssignExpr { lhs, rhs, .. } => {
            walk_expr(lhs, visit)?;
            walk_expr(rhs, visit)?;
        }
        Expr::Membership {
            key,
            value,
            collection,
            ..
        } => {
            if let Some(key) = key {
                walk_expr(key, visit)?;
            }
            walk_expr(value, visit)?;
            walk_expr(collection, visit)?;
        }
        // Only reachable if a regorus feature adds expression kinds (e.g.
        // `rego-extensions`); refuse rather than skip what we cannot check.
        #[allow(unreachable_patterns)]
        other => {
            let span = other.span();
            return Err(PolicyError::Parse {
                file: file_of(span),
                message: format!(
                    "{}:{}: expression kind not supported by the policy checker",
                    span.line, span.col
                ),
            });
        }
    }
    Ok(())
}
