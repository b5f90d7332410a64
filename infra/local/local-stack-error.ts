/** A problem starting or running the local stack, worded as the one line the user will read. */
export class LocalStackError extends Error {
  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
    this.name = 'LocalStackError';
  }
}
