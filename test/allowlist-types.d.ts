// The suites run with `response: { requireResponse: false }` (each is about its own concern, and
// test/allowlist covers allowlists), so this program relaxes the compile-time requirement to
// match, as an application adopting allowlists gradually would. test/types/required-response
// checks the requirement itself, in a program of its own.
export {}

declare module '@portcullis/allowlist' {
  interface AllowlistTypes {
    requireResponse: false
  }
}
