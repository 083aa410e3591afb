/** HTML files are bundled as text by the wrangler.toml [[rules]]. */
declare module "*.html" {
  const text: string;
  export default text;
}
