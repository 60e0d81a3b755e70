// Compile-time assertions that the generated types are real (not `any`): tsc fails on a false one.
export type Equals<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
export function assertType<T extends true>(): T | void {}
