variable "name" {
  description = "Name of the stack: the event bus, and the prefix of every other resource name."
  type        = string
  default     = "items-api"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name is 3 to 32 characters: lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "region" {
  description = "AWS region of the stack."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region is an AWS region name such as us-east-1."
  }
}

variable "items_table_name" {
  description = "Name of the items table."
  type        = string
  default     = "items"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.items_table_name))
    error_message = "A DynamoDB table name is 3 to 255 characters of A-Z, a-z, 0-9, '_', '-' and '.'."
  }
}

variable "artifacts_dir" {
  description = "Folder of the Lambda zips, <function>/bootstrap.zip (cargo lambda build --release --arm64 --output-format zip -p functions)."
  type        = string
  default     = "../target/lambda"
}

variable "lambda_architecture" {
  description = "Instruction set of the functions (the zips must be built for it)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture is arm64 or x86_64."
  }
}

variable "lambda_memory_mb" {
  description = "Memory of each function, in MB."
  type        = number
  default     = 256

  validation {
    condition     = var.lambda_memory_mb >= 128 && var.lambda_memory_mb <= 10240 && floor(var.lambda_memory_mb) == var.lambda_memory_mb
    error_message = "Lambda memory is a whole number of MB from 128 to 10240."
  }
}

variable "lambda_timeout_seconds" {
  description = "Timeout of each function, in seconds (the twin's --function-timeout)."
  type        = number
  default     = 10

  validation {
    condition     = var.lambda_timeout_seconds >= 1 && var.lambda_timeout_seconds <= 29 && floor(var.lambda_timeout_seconds) == var.lambda_timeout_seconds
    error_message = "lambda_timeout_seconds is a whole number from 1 to 29 (the HTTP API gives up after 30)."
  }
}

variable "lambda_reserved_concurrency" {
  description = "Reserved concurrency by function (items, public, item-events); unreserved when not named. See terraform/README.md for the numbers: a new account cannot reserve any."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for key, n in var.lambda_reserved_concurrency : contains(["items", "public", "item-events"], key) && n >= 0 && floor(n) == n])
    error_message = "lambda_reserved_concurrency maps items, public or item-events to a whole number, 0 or more."
  }
}

# The event source mapping from the table's stream to the item-events function. The local twin's
# flags take the same defaults (a conformance test ties them); the ranges are Lambda's
# (CreateEventSourceMapping, for a DynamoDB stream).
variable "item_events_batch_size" {
  description = "Most stream records per invocation of item-events (Lambda's BatchSize for a DynamoDB stream: 1 to 10000)."
  type        = number
  default     = 100

  validation {
    condition     = var.item_events_batch_size >= 1 && var.item_events_batch_size <= 10000 && floor(var.item_events_batch_size) == var.item_events_batch_size
    error_message = "item_events_batch_size is a whole number from 1 to 10000."
  }
}

variable "item_events_batching_window_seconds" {
  description = "Seconds Lambda may gather records before invoking item-events, unless the batch is full first (MaximumBatchingWindowInSeconds: 0 to 300)."
  type        = number
  default     = 1

  validation {
    condition     = var.item_events_batching_window_seconds >= 0 && var.item_events_batching_window_seconds <= 300 && floor(var.item_events_batching_window_seconds) == var.item_events_batching_window_seconds
    error_message = "item_events_batching_window_seconds is a whole number from 0 to 300."
  }
}

variable "item_events_maximum_retry_attempts" {
  description = "Retries of a failing batch before it is described on the dead-letter queue (MaximumRetryAttempts: -1, retry until the record expires, or 0 to 10000)."
  type        = number
  default     = 10

  validation {
    condition     = var.item_events_maximum_retry_attempts >= -1 && var.item_events_maximum_retry_attempts <= 10000 && floor(var.item_events_maximum_retry_attempts) == var.item_events_maximum_retry_attempts
    error_message = "item_events_maximum_retry_attempts is a whole number from -1 to 10000."
  }
}

variable "item_events_maximum_record_age_seconds" {
  description = "Age in seconds past which a record is no longer retried but described on the dead-letter queue (MaximumRecordAgeInSeconds: -1, never, or 60 to 604800)."
  type        = number
  default     = 3600

  validation {
    condition     = var.item_events_maximum_record_age_seconds == -1 || (var.item_events_maximum_record_age_seconds >= 60 && var.item_events_maximum_record_age_seconds <= 604800 && floor(var.item_events_maximum_record_age_seconds) == var.item_events_maximum_record_age_seconds)
    error_message = "item_events_maximum_record_age_seconds is -1 or a whole number from 60 to 604800."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of the functions."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR"], var.log_level)
    error_message = "log_level is one of TRACE, DEBUG, INFO, WARN, ERROR."
  }
}

variable "lambda_system_log_level" {
  description = "Level of Lambda's own records (START, REPORT, timeouts, crashes) in the functions' log groups. WARN writes none for a successful invocation; set INFO for an investigation that needs REPORT lines on every invocation (docs/cost.md)."
  type        = string
  default     = "WARN"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN"], var.lambda_system_log_level)
    error_message = "lambda_system_log_level is one of Lambda's system log levels: DEBUG, INFO, WARN."
  }
}

variable "log_retention_days" {
  description = "Retention of every log group of the stack, in days."
  type        = number
  default     = 7

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "CloudWatch Logs accepts only its listed retention periods (1, 3, 5, 7, 14, 30, ... days)."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the functions' EMF metrics."
  type        = string
  default     = "ItemsApi"

  validation {
    condition     = length(var.metrics_namespace) > 0 && length(var.metrics_namespace) <= 255 && !startswith(var.metrics_namespace, "AWS/")
    error_message = "A custom metrics namespace is 1 to 255 characters and does not start with AWS/."
  }
}

variable "throttle_rate" {
  description = "Stage throttling: steady requests per second (the twin's default too)."
  type        = number
  default     = 50

  validation {
    condition     = var.throttle_rate > 0
    error_message = "throttle_rate must be above 0 (0 answers every request 429)."
  }
}

variable "throttle_burst" {
  description = "Stage throttling: burst (the twin's default too)."
  type        = number
  default     = 100

  validation {
    condition     = var.throttle_burst >= 1 && floor(var.throttle_burst) == var.throttle_burst
    error_message = "throttle_burst must be a whole number, 1 or more (0 answers every request 429)."
  }
}

variable "cors_allow_origins" {
  description = "Origins allowed by CORS (e.g. https://app.example.com); empty: no CORS configuration. The default is the example web client's, served locally (docs/deploy.md)."
  type        = list(string)
  default     = ["http://localhost:8000"]

  validation {
    condition     = alltrue([for o in var.cors_allow_origins : o == "*" || can(regex("^https?://[^/]+$", o))])
    error_message = "Each origin is scheme://host[:port] without a path, or *."
  }
}

variable "callback_urls" {
  description = "Where the Hosted UI may send users back after sign-in (https, or http://localhost); the first is the web client's (output web_client_config). The default is the example web client's page, served locally (docs/deploy.md)."
  type        = list(string)
  default     = ["http://localhost:8000/"]

  validation {
    condition     = length(var.callback_urls) > 0 && alltrue([for u in var.callback_urls : can(regex("^(https://|http://localhost[:/])", u))])
    error_message = "At least one callback URL; each is https:// or http://localhost."
  }
}

variable "logout_urls" {
  description = "Where the Hosted UI may send users after sign-out (https, or http://localhost); the first is the web client's (output web_client_config). The default is the example web client's page, served locally (docs/deploy.md)."
  type        = list(string)
  default     = ["http://localhost:8000/"]

  validation {
    condition     = alltrue([for u in var.logout_urls : can(regex("^(https://|http://localhost[:/])", u))])
    error_message = "Each logout URL is https:// or http://localhost."
  }
}

variable "hosted_ui_domain_prefix" {
  description = "Prefix of the Hosted UI domain (unique in the region); null: <name>-<account id>."
  type        = string
  default     = null

  validation {
    condition     = var.hosted_ui_domain_prefix == null || can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", coalesce(var.hosted_ui_domain_prefix, "-")))
    error_message = "A domain prefix is lowercase letters, digits and hyphens, at most 63."
  }
}

variable "self_sign_up" {
  description = "Whether anyone may sign up in the Hosted UI (false: administrators create users)."
  type        = bool
  default     = false
}

variable "table_deletion_protection" {
  description = "Whether the items table refuses to be deleted (turn off only to tear the stack down)."
  type        = bool
  default     = true
}

variable "user_pool_deletion_protection" {
  description = "Whether the user pool refuses to be deleted (turn off only to tear the stack down)."
  type        = bool
  default     = true
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

variable "secret_recovery_window_days" {
  description = "Days a deleted configuration secret can still be restored (0 deletes at once)."
  type        = number
  default     = 7

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "Secrets Manager accepts 0, or 7 to 30 days."
  }
}

# Who the alarms page. The deploy workflow passes the repository variables ALARM_EMAILS,
# ALARM_HTTPS_ENDPOINTS and ALARM_TOPIC_ARNS (JSON lists) as these three.
variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic, e.g. [\"oncall@example.com\"] (each must confirm from the message SNS sends)."
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
  description = "Existing SNS topics every alarm notifies too, on ALARM and on OK (at most 4; each topic's policy, and its KMS key's, must let cloudwatch.amazonaws.com publish)."
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
  description = "E-mail addresses subscribed to the ticket topic: the SLOs' slow-drift alerts and the alarms kept as tickets (each must confirm from the message SNS sends)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for e in var.ticket_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "Each of ticket_emails is an e-mail address."
  }
}

variable "ticket_topic_arns" {
  description = "Existing SNS topics every ticket notifies too, on ALARM and on OK (their policies must let cloudwatch.amazonaws.com publish)."
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

variable "alarms_notify_nobody" {
  description = "Set to true, on purpose, to deploy with alarms that page nobody (alarm_emails, alarm_https_endpoints and alarm_topic_arns all empty)."
  type        = bool
  default     = false
  nullable    = false

  # An alarm nobody hears is no alarm: a deploy that forgot its targets fails here.
  validation {
    condition     = var.alarms_notify_nobody || length(concat(var.alarm_emails, var.alarm_https_endpoints, var.alarm_topic_arns)) > 0
    error_message = "The alarms would notify nobody: give alarm_emails, alarm_https_endpoints or alarm_topic_arns (the deploy workflow reads the repository variables ALARM_EMAILS, ALARM_HTTPS_ENDPOINTS, ALARM_TOPIC_ARNS), or set alarms_notify_nobody = true on purpose."
  }
}

variable "runbook_base_url" {
  description = "URL of the repository's files that runbook paths are appended to, in alarms and dashboards (e.g. https://github.com/OWNER/REPO/blob/main; the deploy workflow gives the deployed commit's)."
  type        = string

  validation {
    condition     = can(regex("^https://[^ ]+[^/ ]$", var.runbook_base_url))
    error_message = "runbook_base_url is an https URL without a trailing slash."
  }
}

variable "adopt_existing" {
  description = "What already exists and is to be imported (imports.tf) rather than created: table (the items table, by items_table_name), user_pool_id (the id of the user pool to adopt), log_groups (the functions', the access log's and the event archive's, by the names this stack gives them). Default: adopt nothing."
  type = object({
    table        = optional(bool, false)
    user_pool_id = optional(string)
    log_groups   = optional(bool, false)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.adopt_existing.user_pool_id == null || can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]_[0-9A-Za-z]+$", coalesce(var.adopt_existing.user_pool_id, "-")))
    error_message = "adopt_existing.user_pool_id is a user pool id such as us-east-1_AbCdEf123, or null."
  }
}

variable "tags" {
  description = "Extra tags on every resource (Project and ManagedBy are always set)."
  type        = map(string)
  default     = {}
}
