//! `printf`'s formatting, as bash's builtin does it: `%[flags][width][.precision]` with
//! `s b c d i u o x X e E f g G q %`, `*` widths, the format reused while arguments remain, and
//! the backslash escapes shared with `echo -e`, `%b` and `$'…'`.
//!
//! Pure: text in, text and error messages out.

/// What one `printf` run produced.
pub struct Formatted {
    pub text: String,
    /// One message per bad argument (`printf: abc: invalid number`); the status is then 1.
    pub errors: Vec<String>,
}

/// Decode backslash escapes. `in_format` is printf's format (`\NNN` octal); otherwise the
/// `echo -e`/`%b` rules (`\0NNN` octal, `\c` ends all output — reported as `true`).
pub fn decode_escapes(text: &str, in_format: bool) -> (String, bool) {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '\\' || i + 1 == chars.len() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let c = chars[i + 1];
        i += 2;
        let simple = match c {
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'e' | 'E' => Some('\x1b'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            '\\' => Some('\\'),
            '"' if in_format => Some('"'),
            '\'' => Some('\''),
            '?' => Some('?'),
            _ => None,
        };
        if let Some(decoded) = simple {
            out.push(decoded);
            continue;
        }
        match c {
            'c' if !in_format => return (out, true),
            '0'..='7' => {
                // Format: `\NNN`; echo and %b: `\0NNN` (the leading 0 does not count).
                let (start, max) = if !in_format && c == '0' { (i, 3) } else { (i - 1, 3) };
                let digits: String =
                    chars[start..].iter().take(max).take_while(|d| d.is_digit(8)).collect();
                i = start + digits.len();
                let value = u32::from_str_radix(&digits, 8).unwrap_or(0);
                out.push(char::from_u32(value & 0xff).unwrap_or('\0'));
            }
            'x' => {
                let digits: String = chars[i..].iter().take(2).take_while(|d| d.is_ascii_hexdigit()).collect();
                if digits.is_empty() {
                    out.push_str("\\x");
                } else {
                    i += digits.len();
                    out.push(char::from_u32(u32::from_str_radix(&digits, 16).unwrap_or(0)).unwrap_or('\0'));
                }
            }
            'u' | 'U' => {
                let max = if c == 'u' { 4 } else { 8 };
                let digits: String = chars[i..].iter().take(max).take_while(|d| d.is_ascii_hexdigit()).collect();
                i += digits.len();
                match u32::from_str_radix(&digits, 16).ok().and_then(char::from_u32) {
                    Some(decoded) => out.push(decoded),
                    None => {
                        out.push('\\');
                        out.push(c);
                        out.push_str(&digits);
                    }
                }
            }
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    (out, false)
}

/// The widest field and the longest precision `printf` makes (beyond them a typo, not a
/// request: `%999999999s` would be a gigabyte of blanks).
const MAX_WIDTH: usize = 1 << 20;
const MAX_PRECISION: usize = 4096;

/// One `%…` directive.
#[derive(Default)]
struct Spec {
    left: bool,
    plus: bool,
    space: bool,
    alternate: bool,
    zero: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

pub fn format(format: &str, args: &[String]) -> Formatted {
    let (format, _) = decode_format(format);
    let mut result = Formatted { text: String::new(), errors: Vec::new() };
    let mut next = 0;
    loop {
        let before = next;
        if run_once(&format, args, &mut next, &mut result) {
            break;
        }
        if next >= args.len() || next == before {
            break;
        }
    }
    result
}

/// The format with its escapes decoded, except that `%` directives are left alone.
fn decode_format(format: &str) -> (Vec<char>, bool) {
    let (decoded, stop) = decode_escapes(format, true);
    (decoded.chars().collect(), stop)
}

/// One pass over the format; true when `%b`'s `\c` ended all output.
fn run_once(format: &[char], args: &[String], next: &mut usize, out: &mut Formatted) -> bool {
    let mut i = 0;
    let take = |next: &mut usize| -> Option<String> {
        let value = args.get(*next).cloned();
        if value.is_some() {
            *next += 1;
        }
        value
    };
    while i < format.len() {
        let c = format[i];
        i += 1;
        if c != '%' {
            out.text.push(c);
            continue;
        }
        if format.get(i) == Some(&'%') {
            out.text.push('%');
            i += 1;
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&flag) = format.get(i) {
            match flag {
                '-' => spec.left = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '#' => spec.alternate = true,
                '0' => spec.zero = true,
                _ => break,
            }
            i += 1;
        }
        spec.width = number_or_star(format, &mut i, || take(next), &mut spec.left, out);
        if format.get(i) == Some(&'.') {
            i += 1;
            let mut ignored = false;
            spec.precision = Some(number_or_star(format, &mut i, || take(next), &mut ignored, out).unwrap_or(0));
        }
        if spec.width.is_some_and(|w| w > MAX_WIDTH) || spec.precision.is_some_and(|p| p > MAX_PRECISION) {
            out.errors.push(format!("a field width above {MAX_WIDTH} or a precision above {MAX_PRECISION} is not supported"));
            return true;
        }
        let Some(&conversion) = format.get(i) else {
            out.text.push('%');
            break;
        };
        i += 1;
        let arg = take(next);
        let text = match conversion {
            's' => {
                let s = arg.unwrap_or_default();
                match spec.precision {
                    Some(p) => s.chars().take(p).collect(),
                    None => s,
                }
            }
            'b' => {
                let (decoded, stop) = decode_escapes(&arg.unwrap_or_default(), false);
                if stop {
                    out.text.push_str(&pad(&spec, decoded));
                    return true;
                }
                decoded
            }
            'q' => shell_quote(&arg.unwrap_or_default()),
            'c' => arg.and_then(|a| a.chars().next()).map(String::from).unwrap_or_default(),
            'd' | 'i' => {
                let n = integer(arg.as_deref(), out);
                let digits = n.unsigned_abs().to_string();
                let digits = with_precision(digits, spec.precision);
                let sign = if n < 0 { "-" } else if spec.plus { "+" } else if spec.space { " " } else { "" };
                return_number(&spec, sign, digits, out);
                continue;
            }
            'u' | 'o' | 'x' | 'X' => {
                let n = integer(arg.as_deref(), out) as u64;
                let digits = match conversion {
                    'u' => n.to_string(),
                    'o' => format!("{n:o}"),
                    'x' => format!("{n:x}"),
                    _ => format!("{n:X}"),
                };
                let digits = with_precision(digits, spec.precision);
                let prefix = match conversion {
                    'o' if spec.alternate && !digits.starts_with('0') => "0",
                    'x' if spec.alternate && n != 0 => "0x",
                    'X' if spec.alternate && n != 0 => "0X",
                    _ => "",
                };
                return_number(&spec, prefix, digits, out);
                continue;
            }
            'f' | 'F' | 'e' | 'E' | 'g' | 'G' => {
                let value = float(arg.as_deref(), out);
                let body = float_text(value.abs(), conversion, spec.precision.unwrap_or(6), spec.alternate);
                let sign = if value.is_sign_negative() && value != 0.0 { "-" } else if spec.plus { "+" } else if spec.space { " " } else { "" };
                return_number(&spec, sign, body, out);
                continue;
            }
            other => {
                out.errors.push(format!("%{other}: invalid format character"));
                return true;
            }
        };
        out.text.push_str(&pad(&spec, text));
    }
    false
}

fn number_or_star(
    format: &[char],
    i: &mut usize,
    mut take: impl FnMut() -> Option<String>,
    left: &mut bool,
    out: &mut Formatted,
) -> Option<usize> {
    if format.get(*i) == Some(&'*') {
        *i += 1;
        let n = integer(take().as_deref(), out);
        if n < 0 {
            *left = true;
        }
        return Some(n.unsigned_abs() as usize);
    }
    let digits: String = format[*i..].iter().take_while(|c| c.is_ascii_digit()).collect();
    *i += digits.len();
    digits.parse().ok()
}

fn with_precision(digits: String, precision: Option<usize>) -> String {
    match precision {
        Some(0) if digits == "0" => String::new(),
        Some(p) if digits.len() < p => format!("{}{digits}", "0".repeat(p - digits.len())),
        _ => digits,
    }
}

fn return_number(spec: &Spec, prefix: &str, digits: String, out: &mut Formatted) {
    let width = spec.width.unwrap_or(0);
    let len = prefix.chars().count() + digits.chars().count();
    let text = if spec.zero && !spec.left && spec.precision.is_none() && len < width {
        format!("{prefix}{}{digits}", "0".repeat(width - len))
    } else {
        pad(spec, format!("{prefix}{digits}"))
    };
    out.text.push_str(&text);
}

fn pad(spec: &Spec, text: String) -> String {
    let width = spec.width.unwrap_or(0);
    let len = text.chars().count();
    if len >= width {
        return text;
    }
    let fill = " ".repeat(width - len);
    if spec.left {
        text + &fill
    } else {
        fill + &text
    }
}

/// An integer argument as bash reads it: decimal, `0x` hex, `0` octal, `'c` a character code.
fn integer(arg: Option<&str>, out: &mut Formatted) -> i64 {
    let Some(arg) = arg else { return 0 };
    if let Some(rest) = arg.strip_prefix('\'').or_else(|| arg.strip_prefix('"')) {
        return rest.chars().next().map_or(0, |c| c as i64);
    }
    let trimmed = arg.trim_start();
    let (negative, digits) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let (radix, body) = if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        (16, hex)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    let valid: String = body.chars().take_while(|c| c.is_digit(radix)).collect();
    let value = i64::from_str_radix(&valid, radix).unwrap_or(0);
    if valid.len() != body.len() || (valid.is_empty() && !arg.is_empty()) {
        out.errors.push(format!("{arg}: invalid number"));
    }
    if negative {
        -value
    } else {
        value
    }
}

fn float(arg: Option<&str>, out: &mut Formatted) -> f64 {
    let Some(arg) = arg else { return 0.0 };
    match arg.trim().parse::<f64>() {
        Ok(v) => v,
        Err(_) => {
            out.errors.push(format!("{arg}: invalid number"));
            0.0
        }
    }
}

fn float_text(value: f64, conversion: char, precision: usize, alternate: bool) -> String {
    let exponent_form = |precision: usize| {
        let text = format!("{value:.precision$e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        format!("{mantissa}e{}{:02}", if exponent < 0 { '-' } else { '+' }, exponent.abs())
    };
    let text = match conversion.to_ascii_lowercase() {
        'f' => format!("{value:.precision$}"),
        'e' => exponent_form(precision),
        _ => {
            let p = precision.max(1);
            let exponent = if value == 0.0 { 0 } else { value.log10().floor() as i32 };
            let mut text = if exponent < -4 || exponent >= p as i32 {
                exponent_form(p - 1)
            } else {
                format!("{value:.*}", (p as i32 - 1 - exponent).max(0) as usize)
            };
            if !alternate && text.contains('.') {
                let (number, exponent) = match text.find('e') {
                    Some(at) => (text[..at].to_string(), text[at..].to_string()),
                    None => (text.clone(), String::new()),
                };
                text = format!("{}{exponent}", number.trim_end_matches('0').trim_end_matches('.'));
            }
            text
        }
    };
    if conversion.is_ascii_uppercase() {
        text.to_uppercase()
    } else {
        text
    }
}

/// `%q`: the text quoted so the shell reads it back as one word.
pub fn shell_quote(text: &str) -> String {
    if text.is_empty() {
        return "''".into();
    }
    let mut out = String::new();
    for c in text.chars() {
        if !(c.is_ascii_alphanumeric() || "_./=:,+@%^-".contains(c)) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(format_text: &str, args: &[&str]) -> String {
        format(format_text, &args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).text
    }

    #[test]
    fn conversions_widths_and_reuse() {
        assert_eq!(run("%5s|%-5s|%05d|%x|%o|%c|%%\\n", &["ab", "cd", "42", "255", "8", "xyz"]), "   ab|cd   |00042|ff|10|x|%\n");
        assert_eq!(run("%s=%d\\n", &["a", "1", "b", "2"]), "a=1\nb=2\n");
        assert_eq!(run("[%s][%d]\\n", &[]), "[][0]\n");
        assert_eq!(run("%.2f %e %g\\n", &["3.14159", "1500", "0.0001"]), "3.14 1.500000e+03 0.0001\n");
        assert_eq!(run("%b|\\101\\n", &["a\\tb\\0101"]), "a\tbA|A\n");
        assert_eq!(run("%*d|%.3s\\n", &["4", "7", "abcdef"]), "   7|abc\n");
        assert_eq!(run("%d\\n", &["'A"]), "65\n");
        let bad = format("%d", &["12abc".to_string()]);
        assert_eq!((bad.text.as_str(), bad.errors.len()), ("12", 1));
        let huge = format("%.65536f|%2147483648s", &["1".to_string(), "x".to_string()]);
        assert_eq!((huge.text.as_str(), huge.errors.len()), ("", 1), "no panic, no gigabyte");
    }
}
