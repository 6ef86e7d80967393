variable "name" {
  description = "Prefix of the dashboards, alarms, topic and key alias."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,200}$", var.name))
    error_message = "name is 1 to 200 characters of A-Z, a-z, 0-9, '_' and '-'."
  }
}

variable "dashboards_dir" {
  description = "Folder of the dashboard bodies (*.json, templatefile templates)."
  type        = string
}

variable "alarms_dir" {
  description = "Folder of the alarm definitions (*.json, templatefile templates; shape in README.md)."
  type        = string
}

variable "repository_root" {
  description = "Root folder of the repository: each alarm's runbook path is relative to it."
  type        = string
}

variable "placeholders" {
  description = "Values of the placeholders in the dashboard and alarm templates (templatefile variables), besides alarm_prefix and runbook_base_url, which this module sets."
  type        = map(string)
}

variable "runbook_base_url" {
  description = "URL of the repository's files that runbook paths are appended to (e.g. https://github.com/OWNER/REPO/blob/COMMIT): the runbook_base_url placeholder and the alarm descriptions."
  type        = string

  validation {
    condition     = can(regex("^https://[^ ]+[^/ ]$", var.runbook_base_url))
    error_message = "runbook_base_url is an https URL without a trailing slash."
  }
}

variable "alarm_email" {
  description = "E-mail address subscribed to the alarm topic (it must confirm); null subscribes nobody."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", coalesce(var.alarm_email, "-")))
    error_message = "alarm_email is an e-mail address, or null."
  }
}

variable "tags" {
  description = "Tags for the alarms, topic and key, on top of the provider's default tags."
  type        = map(string)
  default     = {}
}
