-- A watch event of a running job's Pod, as the API server sends it (managedFields
-- of lunar and the kubelet, status with an init container done and two
-- containers running), for bench/watch_event.c. Run: lunar lua bench/watch_event.lua
local lunar = require "lunar"
local H = require "helper" -- spec/lua on LUA_PATH (bench/run.sh sets it)
local render = require "lunar.render"
local r = render.render_objects(H.runner({}), H.job())
local pod = r.pod
pod.metadata.uid = "0b6a1f7e-8f1d-4c1e-9a51-3c2f5d0a9f11"; pod.metadata.resourceVersion = "123456"
pod.metadata.managedFields = { { manager = "lunar", operation = "Update", apiVersion = "v1", time = "2026-12-02T15:00:00Z", fieldsType = "FieldsV1", fieldsV1 = { ["f:metadata"] = { ["f:labels"] = { ["."] = {}, ["f:pod"] = {} } }, ["f:spec"] = { ["f:containers"] = { ['k:{"name":"build"}'] = { ["."] = {}, ["f:image"] = {} } } } } },
  { manager = "kubelet", operation = "Update", apiVersion = "v1", subresource = "status", time = "2026-12-02T15:00:01Z", fieldsType = "FieldsV1", fieldsV1 = { ["f:status"] = { ["f:conditions"] = {}, ["f:containerStatuses"] = {}, ["f:phase"] = {} } } } }
pod.status = { phase = "Running", conditions = { { type = "Ready", status = "True", lastTransitionTime = "2026-12-02T15:00:01Z" } },
  initContainerStatuses = { { name = "get-sources", ready = true, restartCount = 0, image = "x", imageID = "y", containerID = "containerd://abc", state = { terminated = { exitCode = 0, reason = "Completed", startedAt = "2026-12-02T15:00:01Z", finishedAt = "2026-12-02T15:00:02Z" } } } },
  containerStatuses = { { name = "build", ready = true, restartCount = 0, image = "alpine", imageID = "z", containerID = "containerd://def", state = { running = { startedAt = "2026-12-02T15:00:03Z" } } },
    { name = "helper", ready = true, restartCount = 0, image = "h", imageID = "h", containerID = "containerd://ghi", state = { running = { startedAt = "2026-12-02T15:00:03Z" } } } } }
io.write(lunar.json.encode({ type = "MODIFIED", object = pod }))
