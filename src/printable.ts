// Text from files and refs goes into the log. The runner reads a line that
// starts with `::` as a workflow command, and git allows a newline in a file
// name, so a pull request could add a file that issues one: control
// characters are shown escaped instead.
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
  return text.replace(/[\u0000-\u001f\u007f]/g, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** At most 300 characters of an answer from elsewhere: a registry's error can carry a whole page. */
export function clipped(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}…` : text
}
