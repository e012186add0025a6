//! Routing rules: the subset of CEL the official docs use in `routes.rules[].match`, over
//! the CloudEvent as `event` — field access (`event.type`, `event.data.order.amount`,
//! `event.data["key"]`), literals (strings, numbers, `true`, `false`, `null`), comparisons
//! (`==`, `!=`, `<`, `<=`, `>`, `>=`), `!`, `&&`, `||` and parentheses. A rule whose
//! expression cannot be parsed is refused when the subscription is set up; one that fails to
//! evaluate (a missing field compared with `<`, ...) does not match.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Lit(Value),
    /// `event` followed by field names.
    Path(Vec<String>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(Op, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Sym(&'static str),
}

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '"' || c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("unterminated string".into()),
                    Some(q) if *q == c => break,
                    Some('\\') => {
                        i += 1;
                        match chars.get(i) {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(other) => s.push(*other),
                            None => return Err("unterminated string".into()),
                        }
                    }
                    Some(ch) => s.push(*ch),
                }
                i += 1;
            }
            i += 1;
            out.push(Tok::Str(s));
            continue;
        }
        if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let n: String = chars[start..i].iter().collect();
            out.push(Tok::Num(n.parse().map_err(|_| format!("bad number {n}"))?));
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let sym = match two.as_str() {
            "==" => Some("=="),
            "!=" => Some("!="),
            "<=" => Some("<="),
            ">=" => Some(">="),
            "&&" => Some("&&"),
            "||" => Some("||"),
            _ => None,
        };
        if let Some(s) = sym {
            out.push(Tok::Sym(s));
            i += 2;
            continue;
        }
        let one = match c {
            '<' => "<",
            '>' => ">",
            '!' => "!",
            '(' => "(",
            ')' => ")",
            '.' => ".",
            '[' => "[",
            ']' => "]",
            other => return Err(format!("unexpected character {other:?}")),
        };
        out.push(Tok::Sym(one));
        i += 1;
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn eat(&mut self, sym: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Sym(s)) if *s == sym) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.eat("||") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.cmp()?;
        while self.eat("&&") {
            left = Expr::And(Box::new(left), Box::new(self.cmp()?));
        }
        Ok(left)
    }

    fn cmp(&mut self) -> Result<Expr, String> {
        let left = self.unary()?;
        let op = match self.peek() {
            Some(Tok::Sym("==")) => Op::Eq,
            Some(Tok::Sym("!=")) => Op::Ne,
            Some(Tok::Sym("<")) => Op::Lt,
            Some(Tok::Sym("<=")) => Op::Le,
            Some(Tok::Sym(">")) => Op::Gt,
            Some(Tok::Sym(">=")) => Op::Ge,
            _ => return Ok(left),
        };
        self.pos += 1;
        let right = self.unary()?;
        Ok(Expr::Cmp(op, Box::new(left), Box::new(right)))
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat("!") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, String> {
        if self.eat("(") {
            let e = self.or()?;
            if !self.eat(")") {
                return Err("missing )".into());
            }
            return Ok(e);
        }
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Str(s)) => {
                self.pos += 1;
                Ok(Expr::Lit(Value::from(s)))
            }
            Some(Tok::Num(n)) => {
                self.pos += 1;
                Ok(Expr::Lit(
                    serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number),
                ))
            }
            Some(Tok::Ident(id)) => {
                self.pos += 1;
                match id.as_str() {
                    "true" => return Ok(Expr::Lit(Value::Bool(true))),
                    "false" => return Ok(Expr::Lit(Value::Bool(false))),
                    "null" => return Ok(Expr::Lit(Value::Null)),
                    "event" => {}
                    other => return Err(format!("unknown name {other:?} (use event.<field>)")),
                }
                let mut path = Vec::new();
                loop {
                    if self.eat(".") {
                        match self.toks.get(self.pos).cloned() {
                            Some(Tok::Ident(f)) => {
                                self.pos += 1;
                                path.push(f);
                            }
                            _ => return Err("a field name must follow '.'".into()),
                        }
                    } else if self.eat("[") {
                        match self.toks.get(self.pos).cloned() {
                            Some(Tok::Str(f)) => {
                                self.pos += 1;
                                path.push(f);
                            }
                            _ => return Err("a quoted field name must follow '['".into()),
                        }
                        if !self.eat("]") {
                            return Err("missing ]".into());
                        }
                    } else {
                        break;
                    }
                }
                Ok(Expr::Path(path))
            }
            Some(t) => Err(format!("unexpected {t:?}")),
            None => Err("the expression ends too early".into()),
        }
    }
}

/// Parses a `match` expression.
pub fn parse(text: &str) -> Result<Expr, String> {
    let mut p = Parser {
        toks: lex(text)?,
        pos: 0,
    };
    let e = p.or()?;
    if p.pos != p.toks.len() {
        return Err(format!("unexpected {:?}", p.toks[p.pos]));
    }
    Ok(e)
}

fn value<'a>(e: &'a Expr, event: &'a Map<String, Value>) -> Option<Value> {
    match e {
        Expr::Lit(v) => Some(v.clone()),
        Expr::Path(path) => {
            let mut cur = event.get(path.first()?)?;
            for f in &path[1..] {
                cur = cur.as_object()?.get(f)?;
            }
            Some(cur.clone())
        }
        other => eval(other, event).map(Value::Bool),
    }
}

fn compare(op: Op, a: &Value, b: &Value) -> Option<bool> {
    match op {
        Op::Eq => Some(equal(a, b)),
        Op::Ne => Some(!equal(a, b)),
        _ => {
            let ord = match (a, b) {
                (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?)?,
                (Value::String(x), Value::String(y)) => x.cmp(y),
                _ => return None,
            };
            Some(match op {
                Op::Lt => ord.is_lt(),
                Op::Le => ord.is_le(),
                Op::Gt => ord.is_gt(),
                Op::Ge => ord.is_ge(),
                Op::Eq | Op::Ne => unreachable!(),
            })
        }
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Evaluates `e` on `event`; `None` when it cannot be evaluated.
fn eval(e: &Expr, event: &Map<String, Value>) -> Option<bool> {
    match e {
        Expr::Not(x) => eval(x, event).map(|b| !b),
        Expr::And(a, b) => Some(eval(a, event)? && eval(b, event)?),
        Expr::Or(a, b) => Some(eval(a, event).unwrap_or(false) || eval(b, event).unwrap_or(false)),
        Expr::Cmp(op, a, b) => {
            let (a, b) = (value(a, event), value(b, event));
            match (a, b) {
                (Some(a), Some(b)) => compare(*op, &a, &b),
                // A missing field is unequal to everything.
                (None, _) | (_, None) => match op {
                    Op::Eq => Some(false),
                    Op::Ne => Some(true),
                    _ => None,
                },
            }
        }
        Expr::Lit(Value::Bool(b)) => Some(*b),
        Expr::Path(_) => value(e, event).and_then(|v| v.as_bool()),
        Expr::Lit(_) => None,
    }
}

/// Whether `e` holds for `event` (an evaluation error is no match).
pub fn matches(e: &Expr, event: &Map<String, Value>) -> bool {
    eval(e, event).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev() -> Map<String, Value> {
        serde_json::from_str(
            r#"{"type":"order","source":"shop","data":{"amount":120,"kind":"widget","nested":{"ok":true}}}"#,
        )
        .unwrap()
    }

    fn m(text: &str) -> bool {
        matches(&parse(text).unwrap(), &ev())
    }

    #[test]
    fn the_official_examples() {
        assert!(m(r#"event.type == "order""#));
        assert!(!m(r#"event.type != "order""#));
        assert!(m(r#"event.type == "order" && event.data.amount > 100"#));
        assert!(m(r#"event.type == "nope" || event.data.kind == 'widget'"#));
        assert!(m(r#"event.data["kind"] == "widget""#));
        assert!(m("event.data.nested.ok"));
        assert!(m("!(event.data.amount < 100)"));
        assert!(!m(r#"event.data.missing == "x""#));
        assert!(m(r#"event.data.missing != "x""#));
        assert!(!m("event.data.missing > 1"));
        assert!(m("event.data.amount == 120.0"));
    }

    #[test]
    fn bad_expressions_are_refused() {
        for bad in [
            "",
            "event.type ==",
            "foo == 1",
            r#"event.type == "x"#,
            "event.(a)",
            "1 +",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
