-- Argo CD health check for alertplane.io CustomerAlert and CustomerReceiver (one script
-- for both kinds). Reads the status alertplane writes: phase, observedGeneration and the
-- Valid / Synced conditions. Embedded in README.md; tests/unit/deploy/test_argocd_health.py keeps the
-- two equal and runs this file on every phase.
local hs = {}

local function condition(status, kind)
  if type(status.conditions) ~= "table" then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function message(status, kind, fallback)
  local c = condition(status, kind)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

local status = obj.status
if status == nil or status.phase == nil or status.phase == "" then
  hs.status = "Progressing"
  hs.message = "Waiting for alertplane to validate and sync this object"
  return hs
end

-- A status written for an older spec says nothing about the current one.
local generation = obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for alertplane to process generation " .. tostring(generation)
  return hs
end

local phase = status.phase
if phase == "Synced" then
  hs.status = "Healthy"
  hs.message = message(status, "Synced", "Live in Prometheus and Alertmanager")
elseif phase == "Disabled" then
  -- Disabled is a declared, fully applied state (spec.enabled: false): nothing to wait
  -- for and nothing Argo CD could resume, so Healthy rather than Suspended.
  hs.status = "Healthy"
  hs.message = "Disabled (spec.enabled: false): validated, not rendered"
elseif phase == "Pending" then
  hs.status = "Progressing"
  hs.message = message(status, "Synced", "Waiting for the next sync")
elseif phase == "Invalid" then
  -- The last valid version stays live, but this spec is not applied.
  hs.status = "Degraded"
  hs.message = message(status, "Valid", "The spec failed validation")
elseif phase == "Failed" then
  hs.status = "Degraded"
  hs.message = message(status, "Synced", "Writing or reloading the rendered output failed")
else
  hs.status = "Unknown"
  hs.message = "Unknown phase " .. tostring(phase)
end
return hs
