/**
 * Ends a running sale now (the operator's close): its endsAt becomes Redis' clock, unless it
 * ended earlier already. The gate answers "ended" from then on; the stock left stays unsold.
 *
 * KEYS[1] sale  HASH
 *
 * Returns { saleId, endsAt (ms) }, or { } when there is no sale.
 */
export const closeSaleLua = `
local saleId = redis.call('HGET', KEYS[1], 'saleId')
if not saleId then return {} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local endsAt = tonumber(redis.call('HGET', KEYS[1], 'endsAt') or '0')
if endsAt == 0 or endsAt > now then
  endsAt = now
  redis.call('HSET', KEYS[1], 'endsAt', endsAt)
end
return {saleId, endsAt}
`;
