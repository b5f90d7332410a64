/** Awaits `action`, expecting it to reject with a `type`; returns the error for further checks. */
export async function rejection<E>(action: Promise<unknown>, type: new (...args: never[]) => E): Promise<E> {
  const error = await action.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(type);
  return error as E;
}
