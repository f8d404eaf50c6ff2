/**
 * A string that shares no memory with the string it came from.
 *
 * Why: V8 represents a substring of 13 or more characters as a view into its parent, so a
 * 20-byte event line cut from a 64 KiB input chunk keeps the whole chunk alive for as long
 * as the line lives. Text kept beyond the current input (quoted lines in reports) must be an
 * own copy.
 */
export function ownCopy(text: string): string {
  // Concatenation makes a new string; slicing it flattens that into fresh storage.
  return ` ${text}`.slice(1);
}
