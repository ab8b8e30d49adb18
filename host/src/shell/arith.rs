//! Arithmetic: `$((…))`, `((…))`, `for ((…))`, `${v:off:len}`, evaluated as bash does
//! (64-bit integers that wrap, C precedence, assignment operators, short-circuit `&&`/`||`).
//!
//! Parsing is `brush-parser`'s; this module only evaluates, reading and writing variables
//! through [`Variables`] so it never sees the rest of the shell.

use brush_parser::ast::{
    ArithmeticExpr, ArithmeticTarget, BinaryOperator, UnaryAssignmentOperator, UnaryOperator,
};

/// How deep a variable may name another expression (`a=b; b=c; c=1`) before it is an error.
const MAX_INDIRECTION: usize = 64;

pub trait Variables {
    fn get(&self, name: &str) -> Option<String>;
    fn set(&mut self, name: &str, value: i64);
    /// `set -u`: an unset variable is an error rather than 0.
    fn unset_is_error(&self) -> bool {
        false
    }
}

/// A number as bash writes one: decimal, `0x1F` hex, `017` octal, `BASE#DIGITS` (2 to 64);
/// `None` when the text is not a number at all (it is then an expression).
pub fn parse_number(text: &str) -> Option<Result<i64, String>> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if !body.starts_with(|c: char| c.is_ascii_digit()) || !body.chars().all(|c| c.is_ascii_alphanumeric() || c == '#' || c == '@' || c == '_') {
        return None;
    }
    let (base, digits) = if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        (16, hex)
    } else if let Some((base, digits)) = body.split_once('#') {
        match base.parse::<u32>() {
            Ok(base) if (2..=64).contains(&base) => (base, digits),
            _ => return Some(Err(format!("{text}: invalid arithmetic base"))),
        }
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    let mut value: i64 = 0;
    for c in digits.chars() {
        let digit = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'a'..='z' => c as u32 - 'a' as u32 + 10,
            'A'..='Z' if base <= 36 => c as u32 - 'A' as u32 + 10,
            'A'..='Z' => c as u32 - 'A' as u32 + 36,
            '@' => 62,
            '_' => 63,
            _ => u32::MAX,
        };
        if digit >= base {
            return Some(Err(format!("{text}: value too great for base")));
        }
        value = value.wrapping_mul(i64::from(base)).wrapping_add(i64::from(digit));
    }
    Some(Ok(if negative { value.wrapping_neg() } else { value }))
}

/// Parse and evaluate `text` (already expanded).
pub fn evaluate(text: &str, vars: &mut dyn Variables) -> Result<i64, String> {
    evaluate_at(text, vars, 0)
}

fn evaluate_at(text: &str, vars: &mut dyn Variables, depth: usize) -> Result<i64, String> {
    if text.trim().is_empty() {
        return Ok(0);
    }
    let expr = super::syntax::without_panics(|| brush_parser::arithmetic::parse(text.trim()))?
        .map_err(|_| format!("{}: arithmetic syntax error", text.trim()))?;
    Evaluator { vars, depth }.eval(&expr)
}

struct Evaluator<'a> {
    vars: &'a mut dyn Variables,
    depth: usize,
}

impl Evaluator<'_> {
    fn name<'t>(&self, target: &'t ArithmeticTarget) -> Result<&'t str, String> {
        match target {
            ArithmeticTarget::Variable(name) => Ok(name),
            ArithmeticTarget::ArrayElement(name, _) => Err(format!("{name}[…]: arrays are not supported in devshell")),
        }
    }

    /// A variable's value as a number: empty or unset is 0; other text is itself an expression.
    fn value_of(&mut self, name: &str) -> Result<i64, String> {
        let Some(text) = self.vars.get(name) else {
            if self.vars.unset_is_error() {
                return Err(format!("{name}: unbound variable"));
            }
            return Ok(0);
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Ok(0);
        }
        if let Some(number) = parse_number(trimmed) {
            return number;
        }
        if self.depth >= MAX_INDIRECTION {
            return Err(format!("{name}: expression recursion level exceeded"));
        }
        evaluate_at(trimmed, self.vars, self.depth + 1)
    }

    fn eval(&mut self, expr: &ArithmeticExpr) -> Result<i64, String> {
        Ok(match expr {
            ArithmeticExpr::Literal(n) => *n,
            ArithmeticExpr::Reference(target) => {
                let name = self.name(target)?.to_string();
                self.value_of(&name)?
            }
            ArithmeticExpr::UnaryOp(op, operand) => {
                let value = self.eval(operand)?;
                match op {
                    UnaryOperator::UnaryPlus => value,
                    UnaryOperator::UnaryMinus => value.wrapping_neg(),
                    UnaryOperator::BitwiseNot => !value,
                    UnaryOperator::LogicalNot => i64::from(value == 0),
                }
            }
            ArithmeticExpr::BinaryOp(BinaryOperator::LogicalAnd, left, right) => {
                i64::from(self.eval(left)? != 0 && self.eval(right)? != 0)
            }
            ArithmeticExpr::BinaryOp(BinaryOperator::LogicalOr, left, right) => {
                i64::from(self.eval(left)? != 0 || self.eval(right)? != 0)
            }
            ArithmeticExpr::BinaryOp(op, left, right) => {
                let left = self.eval(left)?;
                let right = self.eval(right)?;
                apply(op, left, right)?
            }
            ArithmeticExpr::Conditional(condition, then, otherwise) => {
                if self.eval(condition)? != 0 {
                    self.eval(then)?
                } else {
                    self.eval(otherwise)?
                }
            }
            ArithmeticExpr::Assignment(target, value) => {
                let value = self.eval(value)?;
                let name = self.name(target)?.to_string();
                self.vars.set(&name, value);
                value
            }
            ArithmeticExpr::BinaryAssignment(op, target, value) => {
                let name = self.name(target)?.to_string();
                let right = self.eval(value)?;
                let value = apply(op, self.value_of(&name)?, right)?;
                self.vars.set(&name, value);
                value
            }
            ArithmeticExpr::UnaryAssignment(op, target) => {
                let name = self.name(target)?.to_string();
                let old = self.value_of(&name)?;
                let (new, result) = match op {
                    UnaryAssignmentOperator::PrefixIncrement => (old.wrapping_add(1), old.wrapping_add(1)),
                    UnaryAssignmentOperator::PrefixDecrement => (old.wrapping_sub(1), old.wrapping_sub(1)),
                    UnaryAssignmentOperator::PostfixIncrement => (old.wrapping_add(1), old),
                    UnaryAssignmentOperator::PostfixDecrement => (old.wrapping_sub(1), old),
                };
                self.vars.set(&name, new);
                result
            }
        })
    }
}

fn apply(op: &BinaryOperator, left: i64, right: i64) -> Result<i64, String> {
    Ok(match op {
        BinaryOperator::Power => {
            if right < 0 {
                return Err("exponent less than 0".into());
            }
            left.wrapping_pow(u32::try_from(right).unwrap_or(u32::MAX))
        }
        BinaryOperator::Multiply => left.wrapping_mul(right),
        BinaryOperator::Divide | BinaryOperator::Modulo if right == 0 => return Err("division by 0".into()),
        BinaryOperator::Divide => left.wrapping_div(right),
        BinaryOperator::Modulo => left.wrapping_rem(right),
        BinaryOperator::Comma => right,
        BinaryOperator::Add => left.wrapping_add(right),
        BinaryOperator::Subtract => left.wrapping_sub(right),
        BinaryOperator::ShiftLeft => left.wrapping_shl(right as u32),
        BinaryOperator::ShiftRight => left.wrapping_shr(right as u32),
        BinaryOperator::LessThan => i64::from(left < right),
        BinaryOperator::LessThanOrEqualTo => i64::from(left <= right),
        BinaryOperator::GreaterThan => i64::from(left > right),
        BinaryOperator::GreaterThanOrEqualTo => i64::from(left >= right),
        BinaryOperator::Equals => i64::from(left == right),
        BinaryOperator::NotEquals => i64::from(left != right),
        BinaryOperator::BitwiseAnd => left & right,
        BinaryOperator::BitwiseXor => left ^ right,
        BinaryOperator::BitwiseOr => left | right,
        BinaryOperator::LogicalAnd => i64::from(left != 0 && right != 0),
        BinaryOperator::LogicalOr => i64::from(left != 0 || right != 0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    impl Variables for HashMap<String, String> {
        fn get(&self, name: &str) -> Option<String> {
            HashMap::get(self, name).cloned()
        }
        fn set(&mut self, name: &str, value: i64) {
            self.insert(name.into(), value.to_string());
        }
    }

    #[test]
    fn precedence_assignment_and_errors() {
        let mut vars = HashMap::new();
        vars.insert("a".to_string(), "b+1".to_string());
        vars.insert("b".to_string(), "4".to_string());
        for (text, expected) in
            [("1 + 2 * 3", 7), ("(1+2)*3", 9), ("-7 / 2", -3), ("-7 % 2", -1), ("2**10", 1024), ("a * 2", 10), ("1 ? 2 : 3", 2), ("0 && x++", 0)]
        {
            assert_eq!(evaluate(text, &mut vars), Ok(expected), "{text}");
        }
        assert_eq!(vars.get("x"), None, "&& short-circuits");
        assert_eq!(evaluate("i = 5, i += 2, i++", &mut vars), Ok(7));
        assert_eq!(vars.get("i").map(String::as_str), Some("8"));
        assert_eq!(evaluate("1/0", &mut vars), Err("division by 0".into()));
        assert!(evaluate("1 +", &mut vars).unwrap_err().contains("syntax error"));
        vars.insert("octal".into(), "010".into());
        vars.insert("bad".into(), "08".into());
        assert_eq!(evaluate("octal + 0x10 + 2#101", &mut vars), Ok(8 + 16 + 5));
        assert!(evaluate("bad + 1", &mut vars).unwrap_err().contains("value too great"));
        vars.insert("loop".into(), "loop".into());
        assert!(evaluate("loop", &mut vars).unwrap_err().contains("recursion"));
    }
}
