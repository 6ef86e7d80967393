variable "bus_name" {
  description = "Name of the project's event bus."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,256}$", var.bus_name)) && var.bus_name != "default"
    error_message = "An event bus name is 1 to 256 characters of A-Z, a-z, 0-9, '.', '_' and '-', and not 'default'."
  }
}

variable "item_created_rule_name" {
  description = "Name of the rule that sends ItemCreated events to the archive log group."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,64}$", var.item_created_rule_name))
    error_message = "A rule name is 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'."
  }
}

variable "item_created_pattern" {
  description = "Event pattern (JSON) of the ItemCreated rule: the repository's events/item-created.rule.json."
  type        = string

  validation {
    condition     = can(jsondecode(var.item_created_pattern).source) && can(jsondecode(var.item_created_pattern)["detail-type"])
    error_message = "The pattern must be a JSON object with 'source' and 'detail-type'."
  }
}

variable "archive_log_group_name" {
  description = "Log group that archives the events (EventBridge requires the /aws/events/ prefix)."
  type        = string

  validation {
    condition     = startswith(var.archive_log_group_name, "/aws/events/")
    error_message = "EventBridge delivers only to log groups named /aws/events/..."
  }
}

variable "archive_name" {
  description = "Name of the EventBridge archive (replay store) of the bus."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,48}$", var.archive_name))
    error_message = "An archive name is 1 to 48 characters of A-Z, a-z, 0-9, '.', '_' and '-'."
  }
}

variable "log_retention_days" {
  description = "Retention of the archive log group, in days."
  type        = number
  default     = 7

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "CloudWatch Logs accepts only its listed retention periods (1, 3, 5, 7, 14, 30, ... days)."
  }
}

variable "event_archive_retention_days" {
  description = "Days the EventBridge archive keeps events for replay (0 keeps them forever)."
  type        = number
  default     = 30

  validation {
    condition     = var.event_archive_retention_days >= 0 && floor(var.event_archive_retention_days) == var.event_archive_retention_days
    error_message = "event_archive_retention_days is a whole number of days, 0 or more."
  }
}

variable "tags" {
  description = "Tags for the bus, the rule and the log group, on top of the provider's default tags."
  type        = map(string)
  default     = {}
}
