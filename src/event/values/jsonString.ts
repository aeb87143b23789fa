/**
 * JSON string literal for any JS string. Most column texts need no escaping,
 * so one scan decides: clean text is only wrapped in quotes; anything with a
 * quote, a backslash, a control character or a UTF-16 surrogate (emoji, or a
 * lone surrogate that must become \uXXXX) goes through JSON.stringify, which is
 * exact and well-formed for all of them. U+2028/U+2029 are valid raw in JSON.
 */
export const jsonString = (text: string): string => {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) {
      return JSON.stringify(text)
    }
  }
  return "\"" + text + "\""
}
