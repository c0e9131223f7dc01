-- The stages of a job, in the order they run: the names GitLab shows as
-- collapsible sections, and the keys of a runner's `stages` overrides.
return {
  "prepare_script", "get_sources", "restore_cache", "download_artifacts",
  "step_script", "step_release", "after_script",
  "archive_cache", "archive_cache_on_failure",
  "upload_artifacts_on_success", "upload_artifacts_on_failure",
  "cleanup_file_variables",
}
