// Module declarations for what esbuild provides: the generated settings schema (app/schema/gen_schema.c), CSS as text.
declare module 'alfaspark-schema' {
  const value: unknown;
  export default value;
}
declare module '*.css' {
  const css: string;
  export default css;
}
