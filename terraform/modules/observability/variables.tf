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

variable "slos_dir" {
  description = "Folder of the service level objectives (*.json, templatefile templates; shape in slos/README.md) and of burn-rates.json, the burn-rate alerts every objective gets."
  type        = string

  validation {
    condition     = fileexists("${var.slos_dir}/burn-rates.json")
    error_message = "slos_dir holds burn-rates.json, the burn-rate policy."
  }
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

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic (each must confirm from the message SNS sends)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for e in var.alarm_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "Each of alarm_emails is an e-mail address."
  }
}

variable "alarm_https_endpoints" {
  description = "https URLs subscribed to the alarm topic, such as PagerDuty's SNS integration URL (each confirms by visiting the SubscribeURL SNS posts)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for u in var.alarm_https_endpoints : can(regex("^https://[^/\\s]+(/\\S*)?$", u))])
    error_message = "Each of alarm_https_endpoints is an https:// URL."
  }
}

variable "alarm_topic_arns" {
  description = "Existing SNS topics every alarm notifies too, on ALARM and on OK (their policies must let cloudwatch.amazonaws.com publish)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for t in var.alarm_topic_arns : can(regex("^arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", t))])
    error_message = "Each of alarm_topic_arns is the ARN of a standard (not FIFO) SNS topic."
  }

  validation {
    condition     = length(var.alarm_topic_arns) <= 4
    error_message = "CloudWatch takes 5 actions per state: the stack's topic and at most 4 more."
  }
}

variable "ticket_emails" {
  description = "E-mail addresses subscribed to the ticket topic: the SLOs' slow-drift alerts and the alarms kept as tickets, work for office hours (each must confirm from the message SNS sends)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for e in var.ticket_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "Each of ticket_emails is an e-mail address."
  }
}

variable "ticket_topic_arns" {
  description = "Existing SNS topics every ticket notifies too, on ALARM and on OK, such as a ticketing system's (their policies must let cloudwatch.amazonaws.com publish)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for t in var.ticket_topic_arns : can(regex("^arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", t))])
    error_message = "Each of ticket_topic_arns is the ARN of a standard (not FIFO) SNS topic."
  }

  validation {
    condition     = length(var.ticket_topic_arns) <= 4
    error_message = "CloudWatch takes 5 actions per state: the stack's ticket topic and at most 4 more."
  }
}

variable "tags" {
  description = "Tags for the alarms, topic and key, on top of the provider's default tags."
  type        = map(string)
  default     = {}
}
