// A stand-in for a language model, so the example runs offline: it answers every prompt with
// the same few sentences, cut into word pieces the way a tokenizer would.
const answer = 'Server-Sent Events are a plain HTTP response that never quite ends.\n' +
  'Each token you see here arrived as its own event, typed by a TypeBox schema on the server ' +
  'and checked again by the client in this page.\n' +
  'Press Stop to abort the request: the server notices at once.'

/** The tokens of the answer to `prompt`, in order. */
export function tokensFor (prompt: string): string[] {
  const text = `You asked: "${prompt.trim()}".\n${answer}`
  // A leading space stays with its word, long words are cut in pieces of up to five characters,
  // and a line break is a token of its own (sent as a multi-line `data:` frame, restored intact).
  return text.match(/\n| ?[^\s]{1,5}/g) ?? []
}
