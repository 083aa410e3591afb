import { request } from "./runtime";

type Params = { headers?: Record<string, string>; tags?: Record<string, string> };

export default {
  get: (url: string, params?: Params) => request("GET", url, undefined, params),
  post: (url: string, body?: string, params?: Params) => request("POST", url, body, params),
};
