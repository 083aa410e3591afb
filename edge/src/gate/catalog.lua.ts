/**
 * An isolate's refresh of its copy of the catalog (edge/src/product-catalog.ts): one call whatever
 * happened. When the version is the one the isolate holds, only the version comes back (a few
 * bytes); else the whole set, unless it is larger than the isolate may keep.
 *
 * KEYS[1] catalog         SET     every product with a sale (init-sale writes it)
 * KEYS[2] catalogVersion  STRING  changes whenever a product joins or leaves
 * ARGV[1] version         the version the isolate holds, as this script returned it ('' for none)
 * ARGV[2] max             the most product ids the isolate keeps
 *
 * Returns { version } when unchanged, { version, count } when the set holds more than max, else
 * { version, count, { productId… } } (nested: a reply of 50,000 ids cannot be unpacked).
 */
export const catalogLua = `
-- 'v' first, so the '' of an isolate with no copy never matches (not even a catalog with no version yet).
local version = 'v' .. (redis.call('GET', KEYS[2]) or '')
if version == ARGV[1] then return {version} end
local count = redis.call('SCARD', KEYS[1])
if count > tonumber(ARGV[2]) then return {version, count} end
return {version, count, redis.call('SMEMBERS', KEYS[1])}
`;
