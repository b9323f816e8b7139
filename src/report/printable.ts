// Text read from a host (rule lines and their comments, stderr, history notes, setting values)
// reaches the operator's terminal through the text output modes. An iptables comment can hold any
// bytes, so anyone with CAP_NET_ADMIN on a host could otherwise clear the screen, move the cursor
// over lines of the report or write to the clipboard (OSC 52). Every control character but newline
// and tab (C0, DEL, C1) is shown as \xHH instead, and so is every character that reorders or breaks
// what is shown around it (bidirectional overrides, isolates and marks, line and paragraph
// separators: "Trojan Source") as \uHHHH. The escape is unambiguous: a run of backslashes just
// before an escape, or before a literal "x" and two hex digits or "u" and four, is doubled, so
// "\x1b" typed into a comment reads "\\x1b" and only a real ESC reads "\x1b". Other backslashes stay
// as they are (a rule line reads as iptables-save prints it). JSON output is escaped instead
// (json-text.ts).
const SHOWN = /(\\*)([\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]|x[0-9a-f]{2}|u[0-9a-f]{4})/g

export function printable(text: string): string {
  return text.replace(SHOWN, (whole, slashes: string, what: string) => {
    if (slashes === '' && what.length > 1) return whole
    const code = what.charCodeAt(0)
    const shown = what.length > 1 ? what : code > 0xff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\x${code.toString(16).padStart(2, '0')}`
    return slashes + slashes + shown
  })
}
