-- Issue 21.9: a figure a doc quotes from an artifact is in that artifact. A paragraph of
-- docs/*.md or README.md (or one row of a table, or one list item) that names `results/NAME.txt`
-- (NAME may be DIR/NAME: a run kept in a directory of its own), `.json` or
-- `.svg` attributes its figures to that artifact (or, naming several, to any of them): every
-- number in it written with a thousands separator (16,931), as thousands (862k) or with
-- decimals (0.986) must be found in results/NAME.txt or NAME.json - exactly, or rounded as
-- the doc rounds it. Code spans are not figures, nor are bounds (">= 0.97": a goal). And the docs stand alone: none cites the
-- original's notes by a path this repository does not have.

-- Every number an artifact holds, as numbers.
local function artifact_numbers(name)
  local out = {}
  for _, ext in ipairs{ "txt", "json" } do
    local f = io.open(("results/%s.%s"):format(name, ext))
    if f then
      local text = f:read("a")
      f:close()
      for n in text:gmatch("%-?%d+%.?%d*[eE]?[-+]?%d*") do
        local v = tonumber(n)
        if v then out[#out + 1] = v end
      end
    end
  end
  return out
end

-- The figures of a text, each {text, lo, hi}: the values that print as it.
local function figures(text)
  text = text:gsub("`[^`]*`", " ")                  -- code spans: names, not figures
  local out = {}
  -- each maximal run of digits, dots and commas that starts a word
  for s, tok, e in text:gmatch("()(%d[%d.,]*)()") do
    local before = s > 1 and text:sub(s - 1, s - 1) or ""
    local trimmed = tok:gsub("[.,]+$", "")
    local after = text:sub(s + #trimmed, s + #trimmed)
    local k = after == "k"
    local _, dots = trimmed:gsub("%.", "")
    local grouped = trimmed:match("^%d%d?%d?,%d%d%d[,%d]*%.?%d*$") and
                    not trimmed:gsub("%.%d*$", ""):find(",%d?%d?,") and
                    not trimmed:gsub("%.%d*$", ""):find(",%d%d?$") and
                    not trimmed:gsub("%.%d*$", ""):find(",%d%d%d%d")
    local plain = trimmed:gsub(",", "")
    local decimals = plain:match("%.(%d+)$")
    local word = before:match("[%w_.]") or (after:match("[%a_]") and not after:match("[kx]"))
    -- a bound (">= 0.97", "<= 1.10x") is a goal, not a figure quoted from a run
    local bound = text:sub(math.max(1, s - 4), s - 1):find("[<>=]%s*$")
                  or text:sub(math.max(1, s - 4), s - 1):find("\226\137[\164\165]%s*$")
    if not word and not bound and dots <= 1 and (grouped or decimals or k) and
       (not trimmed:find(",") or grouped) then
      local v = tonumber(plain)
      local half = decimals and 0.5 * 10 ^ -#decimals or 0.5
      if k then v, half = v * 1000, 1000 * half end
      out[#out + 1] = { trimmed .. (k and "k" or ""), v - half, v + half }
    end
  end
  return out
end

local function units(text)
  local list, para = {}, {}
  local function flush()
    if #para > 0 then list[#list + 1] = table.concat(para, "\n") end
    para = {}
  end
  for line in (text .. "\n"):gmatch("(.-)\n") do
    if line:match("^%s*$") then
      flush()
    elseif line:match("^|") then
      flush()
      list[#list + 1] = line                         -- a table row stands alone
    elseif line:match("^%s*[-*] ") or line:match("^%s*%d+%. ") then
      flush()                                        -- so does a list item
      para[1] = line
    else
      para[#para + 1] = line
    end
  end
  flush()
  return list
end

local DOCS = { "README.md" }
for name in ls("docs"):gmatch("[^\n]+") do
  if name:match("%.md$") then DOCS[#DOCS + 1] = "docs/" .. name end
end

test("every figure a doc attributes to an artifact is in it", function()
  local cache, bad, checked = {}, {}, 0
  for _, doc in ipairs(DOCS) do
    for _, unit in ipairs(units(read(doc))) do
      local names = {}
      for name in unit:gmatch("results/([%w_/]+)%.%a+") do
        -- results/runs/ is where a user's own runs go (ignored by git): no artifact of ours
        if not name:find("^runs/") then names[#names + 1] = name end
      end
      if #names > 0 then
        local pool = {}
        for _, name in ipairs(names) do
          assert(io.open("results/" .. name .. ".json"), doc .. " names results/" .. name ..
                 ", which is not there")
          cache[name] = cache[name] or artifact_numbers(name)
          table.move(cache[name], 1, #cache[name], #pool + 1, pool)
        end
        for _, f in ipairs(figures(unit)) do
          local found = false
          for _, v in ipairs(pool) do
            if v >= f[2] and v <= f[3] then found = true break end
          end
          checked = checked + 1
          if not found then
            bad[#bad + 1] = ("%s: %s is not in results/%s"):format(doc, f[1],
                                                                    table.concat(names, ", results/"))
          end
        end
      end
    end
  end
  assert(#bad == 0, #bad .. " figure(s) not in the artifact named:\n  " .. table.concat(bad, "\n  "))
  assert(checked >= 20, "only " .. checked .. " figures checked: is the rule still finding them?")
end)

test("the figure finder reads figures as the docs write them", function()
  local f = figures("1,661 of 1,992 ns; 862k / 1,260k; 0.986 (0.985-1.086); 10.77.0.1, " ..
                    "kernel 6.18.44, `7,777`, 42 and 3 CPUs, 5., goal >= 0.97, <= 1.10x, " ..
                    "clients=1,4,16")
  local shown = {}
  for _, x in ipairs(f) do shown[#shown + 1] = x[1] end
  assert(table.concat(shown, " ") == "1,661 1,992 862k 1,260k 0.986 0.985 1.086",
         table.concat(shown, " "))
  assert(f[3][2] == 861500 and f[3][3] == 862500)
end)

test("the docs stand alone: no path into the original's notes", function()
  for _, doc in ipairs(DOCS) do
    local text = read(doc)
    assert(not text:find("seed/", 1, true) and not text:find("NOTES.md", 1, true),
           doc .. " cites the original's notes by a path this repository does not have")
  end
end)
