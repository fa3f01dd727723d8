-- wrk script: post signed WeChat text messages, each with its own nonce and
-- a new MsgId. The host binds a signed query to the first body it carries
-- (a query reused with another body is refused 403 as a replay), so every
-- request is signed anew; and a new MsgId keeps the retry dedup from
-- answering from its cache. The token comes from the environment
-- (WECHAT_TOKEN; load.sh sets it).
local bit = require("bit")
local band, bor, bxor, bnot = bit.band, bit.bor, bit.bxor, bit.bnot
local lshift, rshift, rol, tobit, tohex = bit.lshift, bit.rshift, bit.rol, bit.tobit, bit.tohex

local token = os.getenv("WECHAT_TOKEN") or error("WECHAT_TOKEN is not set")

-- sha1_hex is SHA-1 (FIPS 180-4) in LuaJIT's bit operations: wrk has no
-- hash function, and the signature is sha1 of the sorted token, timestamp
-- and nonce.
local function be32(n)
  return string.char(band(rshift(n, 24), 255), band(rshift(n, 16), 255), band(rshift(n, 8), 255), band(n, 255))
end

local w = {}
local sha1_hex = function(msg)
  local len = #msg
  msg = msg .. "\128" .. string.rep("\0", (55 - len) % 64) .. "\0\0\0\0" .. be32(len * 8)
  local h0, h1, h2, h3, h4 = tobit(0x67452301), tobit(0xEFCDAB89), tobit(0x98BADCFE), tobit(0x10325476), tobit(0xC3D2E1F0)
  for chunk = 1, #msg, 64 do
    for i = 0, 15 do
      local a, b, c, d = msg:byte(chunk + i * 4, chunk + i * 4 + 3)
      w[i] = bor(lshift(a, 24), lshift(b, 16), lshift(c, 8), d)
    end
    for i = 16, 79 do
      w[i] = rol(bxor(w[i - 3], w[i - 8], w[i - 14], w[i - 16]), 1)
    end
    local a, b, c, d, e = h0, h1, h2, h3, h4
    for i = 0, 79 do
      local f, k
      if i < 20 then
        f, k = bor(band(b, c), band(bnot(b), d)), 0x5A827999
      elseif i < 40 then
        f, k = bxor(b, c, d), 0x6ED9EBA1
      elseif i < 60 then
        f, k = bor(band(b, c), band(b, d), band(c, d)), 0x8F1BBCDC
      else
        f, k = bxor(b, c, d), 0xCA62C1D6
      end
      a, b, c, d, e = tobit(rol(a, 5) + f + e + k + w[i]), a, rol(b, 30), c, d
    end
    h0, h1, h2, h3, h4 = tobit(h0 + a), tobit(h1 + b), tobit(h2 + c), tobit(h3 + d), tobit(h4 + e)
  end
  return tohex(h0) .. tohex(h1) .. tohex(h2) .. tohex(h3) .. tohex(h4)
end

-- wrk links OpenSSL's libcrypto: its SHA1, through LuaJIT's FFI, costs a
-- tenth of the Lua version, which would otherwise make wrk, not the
-- server, the bottleneck. The Lua version stays as the fallback.
local ok_ffi, ffi = pcall(require, "ffi")
if ok_ffi and pcall(ffi.cdef, "unsigned char *SHA1(const unsigned char *d, size_t n, unsigned char *md);") and
    pcall(function() return ffi.C.SHA1 end) then
  local md = ffi.new("unsigned char[20]")
  local hex = {}
  for i = 0, 255 do hex[i] = string.format("%02x", i) end
  local out = {}
  sha1_hex = function(msg)
    ffi.C.SHA1(msg, #msg, md)
    for i = 0, 19 do out[i + 1] = hex[md[i]] end
    return table.concat(out)
  end
end

-- A wrong hash would make every request a 403: check it on known answers.
assert(sha1_hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d", "sha1 self-test failed")
assert(sha1_hex(string.rep("a", 64)) == "0098ba824b5c16427bd7a1122a5a442a25ec644d", "sha1 self-test failed (two blocks)")

local function signed_query(nonce)
  local ts = tostring(os.time())
  local parts = {token, ts, nonce}
  table.sort(parts)
  return "signature=" .. sha1_hex(table.concat(parts)) .. "&timestamp=" .. ts .. "&nonce=" .. nonce
end

local msgid

function init(args)
  -- A random start per thread and run: nonces and MsgIds never repeat
  -- across threads, nor across runs (the warm-up, the rounds) within the
  -- host's memory of them.
  local f = assert(io.open("/dev/urandom", "rb"))
  local a, b, c = f:read(3):byte(1, 3)
  f:close()
  msgid = ((a * 256 + b) * 256 + c) * 1e8 -- below 2^53: exact in a Lua number
end

function request()
  msgid = msgid + 1
  local id = string.format("%.0f", msgid)
  local body = "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName>" ..
    "<FromUserName><![CDATA[bench-user-" .. (msgid % 1000) .. "]]></FromUserName>" ..
    "<CreateTime>" .. os.time() .. "</CreateTime><MsgType><![CDATA[text]]></MsgType>" ..
    "<Content><![CDATA[hello]]></Content><MsgId>" .. id .. "</MsgId></xml>"
  return wrk.format("POST", "/?" .. signed_query(id), {["Content-Type"] = "text/xml"}, body)
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("status " .. status .. ": " .. body .. "\n")
  end
end
