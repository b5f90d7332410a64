/**
 * asl-validator (a dependency of aws-local-stepfunctions, which validates every definition with
 * it) ships no type declarations. Only what the infra tests call.
 */
declare module 'asl-validator' {
  interface AslValidationOptions {
    readonly checkPaths?: boolean;
    readonly checkArn?: boolean;
  }
  interface AslValidationResult {
    readonly isValid: boolean;
    readonly errors: readonly { readonly 'Error code': string; readonly Message: string }[];
    errorsText(separator?: string): string;
  }
  /** Validates an Amazon States Language definition. Mutates it (adds each state's QueryLanguage). */
  function aslValidator(definition: unknown, options?: AslValidationOptions): AslValidationResult;
  export = aslValidator;
}
