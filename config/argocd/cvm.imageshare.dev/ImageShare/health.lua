-- Argo CD health of a cvm.imageshare.dev/ImageShare or ImageSharePolicy (the same
-- script serves both kinds; cvm.imageshare.dev/ImageSharePolicy/health.lua links to it),
-- read from the kstatus triad (Ready, Reconciling, Stalled) the controller writes. It uses the Lua language
-- only, no library function (no ipairs, no string.*, no table.*), because
-- argocd-cm health scripts run without the standard libraries by default.
--
--   Healthy      Ready=True for the current generation
--   Degraded     Stalled=True for the current generation: only a change to the
--                spec or outside the cluster can help; the message says which
--   Progressing  anything else: no status yet, a generation the controller has
--                not seen, Reconciling=True, a pending deletion
-- kind names the controller in the messages: ImageShare or ImageSharePolicy.
local kind = "ImageShare"
if obj.kind ~= nil and obj.kind ~= "" then
  kind = obj.kind
end
local hs = {
  status = "Progressing",
  message = "Waiting for the " .. kind .. " controller to report status"
}

local function findCondition(conditions, conditionType)
  if conditions == nil then
    return nil
  end
  for i = 1, #conditions do
    local c = conditions[i]
    if c ~= nil and c.type == conditionType then
      return c
    end
  end
  return nil
end

-- describe prefixes the condition's reason, the key of the table of reasons in docs/gitops.md.
local function describe(c)
  local text = ""
  if c.reason ~= nil then
    text = c.reason
  end
  if c.message ~= nil and c.message ~= "" then
    if text ~= "" then
      text = text .. ": "
    end
    text = text .. c.message
  end
  return text
end

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.message = "Pending deletion: waiting for the " .. kind .. " controller to release its finalizer"
  return hs
end

local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
local status = obj.status
if status == nil or status.observedGeneration == nil or status.observedGeneration < 0 then
  return hs
end
if generation ~= nil and status.observedGeneration ~= generation then
  hs.message = "Waiting for the " .. kind .. " controller to observe generation " .. generation ..
    " (status describes generation " .. status.observedGeneration .. ")"
  return hs
end

-- A condition written for an older generation says nothing about this one.
local function current(c)
  return c ~= nil and c.status == "True" and
    (c.observedGeneration == nil or generation == nil or c.observedGeneration == generation)
end

local stalled = findCondition(status.conditions, "Stalled")
if current(stalled) then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end

local ready = findCondition(status.conditions, "Ready")
if current(ready) then
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end

local reconciling = findCondition(status.conditions, "Reconciling")
if current(reconciling) then
  hs.message = describe(reconciling)
elseif ready ~= nil then
  hs.message = describe(ready)
end
return hs
