# The pipeline's identity in AWS, applied by an administrator (terraform/bootstrap), never by the
# pipeline itself. GitHub Actions exchanges its OIDC token for one of two roles:
#   - plan: reads the stack and the state, takes the state lock; trusted for pull requests and
#     the main branch, so a plan exists before anyone approves a deploy;
#   - apply: changes the stack; trusted only for jobs of the production environment.
# Every role the stack makes must carry the workload boundary defined here; the apply role can
# make or change roles only with it attached, pass only the stack's function roles, and only to
# Lambda; it can change neither the pipeline's roles nor the boundary. So no policy the
# pipeline writes can reach past the boundary. The actions are derived in permissions.json
# (what the AWS provider calls per resource type); a conformance test holds this file to it.
data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.region
  partition = data.aws_partition.current.partition
  oidc_url  = "https://token.actions.githubusercontent.com"
  oidc_arn  = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : data.aws_iam_openid_connect_provider.github[0].arn

  # The token's `sub` claim: a job in an environment says only the environment; other jobs say
  # the event (pull_request) or the ref.
  subjects = {
    plan = [
      "repo:${var.github_repository}:pull_request",
      "repo:${var.github_repository}:ref:refs/heads/${var.main_branch}",
    ]
    apply = ["repo:${var.github_repository}:environment:${var.github_environment}"]
  }

  role_names = {
    plan  = "${var.name}-plan"
    apply = "${var.name}-apply"
  }

  iam = "arn:${local.partition}:iam::${local.account}"

  arn = {
    functions       = "arn:${local.partition}:lambda:${local.region}:${local.account}:function:${var.name}-*"
    mappings        = "arn:${local.partition}:lambda:${local.region}:${local.account}:event-source-mapping:*"
    queues          = "arn:${local.partition}:sqs:${local.region}:${local.account}:${var.name}-*"
    function_roles  = "${local.iam}:role/${var.name}-*-function"
    pipeline_roles  = [for role in values(local.role_names) : "${local.iam}:role/${role}"]
    boundary        = "${local.iam}:policy/${var.name}-workload-boundary"
    read_policy     = "${local.iam}:policy/${var.name}-pipeline-read"
    invoke_policy   = "${local.iam}:policy/${var.name}-internal-invoke"
    table           = "arn:${local.partition}:dynamodb:${local.region}:${local.account}:table/${var.table_name}"
    table_streams   = "arn:${local.partition}:dynamodb:${local.region}:${local.account}:table/${var.table_name}/stream/*"
    bus             = "arn:${local.partition}:events:${local.region}:${local.account}:event-bus/${var.name}"
    rules           = "arn:${local.partition}:events:${local.region}:${local.account}:rule/${var.name}/*"
    archive         = "arn:${local.partition}:events:${local.region}:${local.account}:archive/${var.name}"
    log_groups      = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:"
    user_pools      = "arn:${local.partition}:cognito-idp:${local.region}:${local.account}:userpool/*"
    secrets         = "arn:${local.partition}:secretsmanager:${local.region}:${local.account}:secret:${var.name}/*"
    dashboards      = "arn:${local.partition}:cloudwatch::${local.account}:dashboard/${var.name}-*"
    alarms          = "arn:${local.partition}:cloudwatch:${local.region}:${local.account}:alarm:${var.name}-*"
    topic           = "arn:${local.partition}:sns:${local.region}:${local.account}:${var.name}-alarms"
    ticket_topic    = "arn:${local.partition}:sns:${local.region}:${local.account}:${var.name}-tickets"
    keys            = "arn:${local.partition}:kms:${local.region}:${local.account}:key/*"
    key_aliases     = "arn:${local.partition}:kms:${local.region}:${local.account}:alias/${var.name}-*"
    apis            = "arn:${local.partition}:apigateway:${local.region}::/apis"
    api_tags        = "arn:${local.partition}:apigateway:${local.region}::/tags/*"
    state_bucket    = "arn:${local.partition}:s3:::${var.state_bucket}"
    state_object    = "arn:${local.partition}:s3:::${var.state_bucket}/${var.state_key}"
    state_lock      = "arn:${local.partition}:s3:::${var.state_bucket}/${var.state_key}.tflock"
    apigateway_role = "${local.iam}:role/aws-service-role/ops.apigateway.amazonaws.com/AWSServiceRoleForAPIGateway"
  }

  # The stack's log groups (functions, event archive, access log), as IAM names them.
  log_groups = [
    "${local.arn.log_groups}/aws/lambda/${var.name}-*",
    "${local.arn.log_groups}/aws/events/${var.name}",
    "${local.arn.log_groups}/aws/apigateway/${var.name}",
  ]
}

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url            = local.oidc_url
  client_id_list = ["sts.amazonaws.com"]
  tags           = var.tags
}

data "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 0 : 1

  url = local.oidc_url
}

data "aws_iam_policy_document" "trust" {
  for_each = local.subjects

  statement {
    sid     = "GitHubActions"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.oidc_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = each.value
    }
  }
}

resource "aws_iam_role" "plan" {
  name                 = local.role_names.plan
  description          = "Plans ${var.name} from ${var.github_repository} (pull requests and ${var.main_branch}): reads only."
  assume_role_policy   = data.aws_iam_policy_document.trust["plan"].json
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_role" "apply" {
  name                 = local.role_names.apply
  description          = "Applies ${var.name} from ${var.github_repository} (${var.github_environment} environment)."
  assume_role_policy   = data.aws_iam_policy_document.trust["apply"].json
  max_session_duration = 3600
  tags                 = var.tags
}

# The most any role of the stack may do, whatever its own policy says: the functions' work on
# the stack's own table and its stream, bus, secret, queues and log groups, and traces.
data "aws_iam_policy_document" "workload_boundary" {
  statement {
    sid       = "ItemsTable"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan"]
    resources = [local.arn.table]
  }

  statement {
    # The item-events function's event source mapping reads the stream with its role.
    sid       = "ItemsStream"
    actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
    resources = [local.arn.table_streams]
  }

  statement {
    # ListStreams has no resource-level permissions: "*" is the narrowest resource.
    sid       = "ListStreams"
    actions   = ["dynamodb:ListStreams"]
    resources = ["*"]
  }

  statement {
    sid       = "ItemEvents"
    actions   = ["events:PutEvents"]
    resources = [local.arn.bus]
  }

  statement {
    # The mapping's on-failure destination, sent to with the function's role.
    sid       = "DeadLetterQueues"
    actions   = ["sqs:SendMessage"]
    resources = [local.arn.queues]
  }

  statement {
    sid       = "ConfigSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [local.arn.secrets]
  }

  statement {
    sid       = "FunctionLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.arn.log_groups}/aws/lambda/${var.name}-*:*"]
  }

  statement {
    # X-Ray has no resource-level permissions for these actions: "*" is the narrowest resource.
    sid       = "Traces"
    actions   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    resources = ["*"]
  }
}

resource "aws_iam_policy" "workload_boundary" {
  name        = "${var.name}-workload-boundary"
  description = "Permissions boundary of every role ${var.name} makes; only an administrator changes it (terraform/bootstrap)."
  policy      = data.aws_iam_policy_document.workload_boundary.json
  tags        = var.tags
}

# What `terraform plan` reads: every resource of the stack, refreshed (permissions.json, the
# read phase of each resource type). Both roles have it.
data "aws_iam_policy_document" "read" {
  statement {
    sid       = "StateBucket"
    actions   = ["s3:ListBucket"]
    resources = [local.arn.state_bucket]
  }

  statement {
    sid       = "ReadState"
    actions   = ["s3:GetObject"]
    resources = [local.arn.state_object]
  }

  statement {
    # A plan holds the state lock too: the lock is an object beside the state (use_lockfile).
    sid       = "StateLock"
    actions   = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    resources = [local.arn.state_lock]
  }

  statement {
    sid = "ReadFunctions"
    actions = [
      "lambda:GetFunction",
      "lambda:GetFunctionCodeSigningConfig",
      "lambda:GetPolicy",
      "lambda:ListVersionsByFunction",
    ]
    resources = [local.arn.functions]
  }

  statement {
    # Mapping UUIDs are assigned by Lambda: the region's mappings are the narrowest scope.
    sid       = "ReadEventSourceMappings"
    actions   = ["lambda:GetEventSourceMapping", "lambda:ListTags"]
    resources = [local.arn.mappings]
  }

  statement {
    sid       = "ReadQueues"
    actions   = ["sqs:GetQueueAttributes", "sqs:ListQueueTags"]
    resources = [local.arn.queues]
  }

  statement {
    sid = "ReadFunctionRoles"
    actions = [
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListAttachedRolePolicies",
      "iam:ListRolePolicies",
    ]
    resources = [local.arn.function_roles]
  }

  statement {
    sid       = "ReadOperatorInvokePolicy"
    actions   = ["iam:GetPolicy", "iam:GetPolicyVersion"]
    resources = [local.arn.invoke_policy]
  }

  statement {
    # API ids are assigned by API Gateway: the region's /apis is the narrowest scope.
    sid       = "ReadHttpApi"
    actions   = ["apigateway:GET"]
    resources = ["${local.arn.apis}/*"]
  }

  statement {
    sid = "ReadItemsTable"
    actions = [
      "dynamodb:DescribeContinuousBackups",
      "dynamodb:DescribeTable",
      "dynamodb:DescribeTimeToLive",
      "dynamodb:ListTagsOfResource",
    ]
    resources = [local.arn.table]
  }

  statement {
    sid       = "ReadBus"
    actions   = ["events:DescribeEventBus", "events:ListTagsForResource"]
    resources = [local.arn.bus]
  }

  statement {
    sid       = "ReadRules"
    actions   = ["events:DescribeRule", "events:ListTagsForResource", "events:ListTargetsByRule"]
    resources = [local.arn.rules]
  }

  statement {
    sid       = "ReadArchive"
    actions   = ["events:DescribeArchive"]
    resources = [local.arn.archive]
  }

  statement {
    sid       = "ReadLogGroups"
    actions   = ["logs:ListTagsForResource"]
    resources = local.log_groups
  }

  statement {
    # DescribeLogGroups is authorized on the region's log groups as a whole.
    sid       = "ListLogGroups"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["${local.arn.log_groups}*"]
  }

  statement {
    # Log resource policies have no resource-level permissions: "*" is the narrowest resource.
    sid       = "ReadLogResourcePolicies"
    actions   = ["logs:DescribeResourcePolicies"]
    resources = ["*"]
  }

  statement {
    # User pool domains have no ARN: "*" is the narrowest resource.
    sid       = "ReadUserPoolDomain"
    actions   = ["cognito-idp:DescribeUserPoolDomain"]
    resources = ["*"]
  }

  statement {
    # Pool ids are assigned by Cognito: the account's pools are the narrowest scope.
    sid = "ReadUserPool"
    actions = [
      "cognito-idp:DescribeUserPool",
      "cognito-idp:DescribeUserPoolClient",
      "cognito-idp:GetUserPoolMfaConfig",
    ]
    resources = [local.arn.user_pools]
  }

  statement {
    # The provider refreshes the secret version by reading it: the plan role sees the cursor
    # keys (they are in the state too); they sign page cursors, nothing else.
    sid = "ReadConfigSecret"
    actions = [
      "secretsmanager:DescribeSecret",
      "secretsmanager:GetResourcePolicy",
      "secretsmanager:GetSecretValue",
    ]
    resources = [local.arn.secrets]
  }

  statement {
    sid       = "ReadDashboards"
    actions   = ["cloudwatch:GetDashboard"]
    resources = [local.arn.dashboards]
  }

  statement {
    sid       = "ReadAlarms"
    actions   = ["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"]
    resources = [local.arn.alarms]
  }

  statement {
    sid       = "ReadAlarmTopic"
    actions   = ["sns:GetTopicAttributes", "sns:ListTagsForResource"]
    resources = [local.arn.topic, local.arn.ticket_topic]
  }

  statement {
    # Subscription actions have no resource-level permissions: "*" is the narrowest resource.
    sid       = "ReadAlarmSubscriptions"
    actions   = ["sns:GetSubscriptionAttributes"]
    resources = ["*"]
  }

  statement {
    # ListAliases has no resource-level permissions: "*" is the narrowest resource.
    sid       = "ListKeyAliases"
    actions   = ["kms:ListAliases"]
    resources = ["*"]
  }

  statement {
    # Key ids are assigned by KMS: the region's keys are the narrowest scope.
    sid = "ReadKeys"
    actions = [
      "kms:DescribeKey",
      "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus",
      "kms:ListResourceTags",
    ]
    resources = [local.arn.keys]
  }
}

# A managed policy, attached to both roles: the apply role's inline policy has IAM's 10,240
# characters to itself.
resource "aws_iam_policy" "read" {
  name        = "${var.name}-pipeline-read"
  description = "What terraform plan of ${var.name} reads: the stack, the state, the state lock."
  policy      = data.aws_iam_policy_document.read.json
  tags        = var.tags
}

resource "aws_iam_role_policy_attachment" "read" {
  for_each = {
    plan  = aws_iam_role.plan.name
    apply = aws_iam_role.apply.name
  }

  role       = each.value
  policy_arn = aws_iam_policy.read.arn
}

# What `terraform apply` changes, on top of what the plan reads (permissions.json: the create,
# update, tag and delete phases).
data "aws_iam_policy_document" "apply" {
  statement {
    sid       = "WriteState"
    actions   = ["s3:PutObject"]
    resources = [local.arn.state_object]
  }

  statement {
    sid = "Functions"
    actions = [
      "lambda:AddPermission",
      "lambda:CreateFunction",
      "lambda:DeleteFunction",
      "lambda:DeleteFunctionConcurrency",
      "lambda:PutFunctionConcurrency",
      "lambda:RemovePermission",
      "lambda:TagResource",
      "lambda:UntagResource",
      "lambda:UpdateFunctionCode",
      "lambda:UpdateFunctionConfiguration",
    ]
    resources = [local.arn.functions]
  }

  statement {
    # CreateEventSourceMapping has no resource type (Lambda assigns the UUID): "*", held to the
    # stack's functions by the function the request names.
    sid       = "CreateEventSourceMappings"
    actions   = ["lambda:CreateEventSourceMapping"]
    resources = ["*"]

    condition {
      test     = "ArnLike"
      variable = "lambda:FunctionArn"
      values   = [local.arn.functions]
    }
  }

  statement {
    # Mapping UUIDs are assigned by Lambda: the region's mappings, of the stack's functions.
    sid       = "EventSourceMappings"
    actions   = ["lambda:DeleteEventSourceMapping", "lambda:UpdateEventSourceMapping"]
    resources = [local.arn.mappings]

    condition {
      test     = "ArnLike"
      variable = "lambda:FunctionArn"
      values   = [local.arn.functions]
    }
  }

  statement {
    # Tagging requests carry no lambda:FunctionArn: the region's mappings.
    sid       = "TagEventSourceMappings"
    actions   = ["lambda:TagResource", "lambda:UntagResource"]
    resources = [local.arn.mappings]
  }

  statement {
    sid = "Queues"
    actions = [
      "sqs:CreateQueue",
      "sqs:DeleteQueue",
      "sqs:SetQueueAttributes",
      "sqs:TagQueue",
      "sqs:UntagQueue",
    ]
    resources = [local.arn.queues]
  }

  statement {
    # Creating a role, or changing what it may do, only with the workload boundary on it
    # (iam:PermissionsBoundary is the boundary the request sets or the role already has).
    sid = "FunctionRolesWithTheBoundary"
    actions = [
      "iam:CreateRole",
      "iam:DeleteRolePolicy",
      "iam:PutRolePermissionsBoundary",
      "iam:PutRolePolicy",
    ]
    resources = [local.arn.function_roles]

    condition {
      test     = "StringEquals"
      variable = "iam:PermissionsBoundary"
      values   = [local.arn.boundary]
    }
  }

  statement {
    sid = "FunctionRoles"
    actions = [
      "iam:DeleteRole",
      "iam:ListInstanceProfilesForRole",
      "iam:TagRole",
      "iam:UntagRole",
      "iam:UpdateAssumeRolePolicy",
      "iam:UpdateRole",
      "iam:UpdateRoleDescription",
    ]
    resources = [local.arn.function_roles]
  }

  statement {
    sid       = "PassFunctionRolesToLambda"
    actions   = ["iam:PassRole"]
    resources = [local.arn.function_roles]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["lambda.amazonaws.com"]
    }
  }

  statement {
    # The on-call policy of the api module (execute-api:Invoke on POST /internal/*).
    sid = "OperatorInvokePolicy"
    actions = [
      "iam:CreatePolicy",
      "iam:CreatePolicyVersion",
      "iam:DeletePolicy",
      "iam:DeletePolicyVersion",
      "iam:ListPolicyVersions",
      "iam:TagPolicy",
      "iam:UntagPolicy",
    ]
    resources = [local.arn.invoke_policy]
  }

  statement {
    sid       = "ApiGatewayServiceLinkedRole"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = [local.arn.apigateway_role]

    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["ops.apigateway.amazonaws.com"]
    }
  }

  statement {
    # Ids of APIs, routes, integrations and authorizers are assigned by API Gateway at create,
    # and tags live under /tags/<the URL-encoded ARN>: these are the narrowest scopes.
    sid       = "CreateHttpApi"
    actions   = ["apigateway:POST"]
    resources = [local.arn.apis, "${local.arn.apis}/*", local.arn.api_tags]
  }

  statement {
    # API ids are assigned by API Gateway: the region's /apis is the narrowest scope.
    sid       = "ChangeHttpApi"
    actions   = ["apigateway:PATCH"]
    resources = ["${local.arn.apis}/*"]
  }

  statement {
    # API ids are assigned by API Gateway, tags live under /tags/<the URL-encoded ARN>.
    sid       = "DeleteHttpApi"
    actions   = ["apigateway:DELETE"]
    resources = ["${local.arn.apis}/*", local.arn.api_tags]
  }

  statement {
    sid = "ChangeItemsTable"
    actions = [
      "dynamodb:CreateTable",
      "dynamodb:DeleteTable",
      "dynamodb:TagResource",
      "dynamodb:UntagResource",
      "dynamodb:UpdateContinuousBackups",
      "dynamodb:UpdateTable",
      "dynamodb:UpdateTimeToLive",
    ]
    resources = [local.arn.table]
  }

  statement {
    sid = "Bus"
    actions = [
      "events:CreateEventBus",
      "events:DeleteEventBus",
      "events:TagResource",
      "events:UntagResource",
      "events:UpdateEventBus",
    ]
    resources = [local.arn.bus]
  }

  statement {
    sid = "Rules"
    actions = [
      "events:DeleteRule",
      "events:PutRule",
      "events:PutTargets",
      "events:RemoveTargets",
      "events:TagResource",
      "events:UntagResource",
    ]
    resources = [local.arn.rules]
  }

  statement {
    # CreateArchive is authorized on the archive and on the bus it archives.
    sid       = "CreateArchive"
    actions   = ["events:CreateArchive"]
    resources = [local.arn.archive, local.arn.bus]
  }

  statement {
    sid       = "Archive"
    actions   = ["events:DeleteArchive", "events:UpdateArchive"]
    resources = [local.arn.archive]
  }

  statement {
    sid = "LogGroups"
    actions = [
      "logs:CreateLogGroup",
      "logs:DeleteLogGroup",
      "logs:DeleteRetentionPolicy",
      "logs:PutRetentionPolicy",
      "logs:TagResource",
      "logs:UntagResource",
    ]
    resources = local.log_groups
  }

  statement {
    # Log resource policies (EventBridge to the archive) and log deliveries (the HTTP API's
    # access logs) have no resource-level permissions: "*" is the narrowest resource.
    # cloudsplaining:allow=logs:PutResourcePolicy:EventBridge writes the archive log group under a log resource policy, which has no resource-level permission; the stack's policy names its own rule and group.
    # cloudsplaining:allow=logs:DeleteResourcePolicy:The counterpart of PutResourcePolicy, which has no resource-level permission.
    sid = "LogPoliciesAndDeliveries"
    actions = [
      "logs:CreateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:DeleteResourcePolicy",
      "logs:GetLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:UpdateLogDelivery",
    ]
    resources = ["*"]
  }

  statement {
    # A user pool's ARN exists only after CreateUserPool: "*" is the narrowest resource.
    sid       = "CreateUserPool"
    actions   = ["cognito-idp:CreateUserPool"]
    resources = ["*"]
  }

  statement {
    # Pool ids are assigned by Cognito: the account's pools are the narrowest scope.
    sid = "UserPool"
    actions = [
      "cognito-idp:CreateUserPoolClient",
      "cognito-idp:CreateUserPoolDomain",
      "cognito-idp:DeleteUserPool",
      "cognito-idp:DeleteUserPoolClient",
      "cognito-idp:DeleteUserPoolDomain",
      "cognito-idp:SetUserPoolMfaConfig",
      "cognito-idp:TagResource",
      "cognito-idp:UntagResource",
      "cognito-idp:UpdateUserPool",
      "cognito-idp:UpdateUserPoolClient",
      "cognito-idp:UpdateUserPoolDomain",
    ]
    resources = [local.arn.user_pools]
  }

  statement {
    sid = "ChangeConfigSecret"
    actions = [
      "secretsmanager:CreateSecret",
      "secretsmanager:DeleteSecret",
      "secretsmanager:PutSecretValue",
      "secretsmanager:TagResource",
      "secretsmanager:UntagResource",
      "secretsmanager:UpdateSecret",
      "secretsmanager:UpdateSecretVersionStage",
    ]
    resources = [local.arn.secrets]
  }

  statement {
    sid       = "Dashboards"
    actions   = ["cloudwatch:DeleteDashboards", "cloudwatch:PutDashboard"]
    resources = [local.arn.dashboards]
  }

  statement {
    sid = "Alarms"
    actions = [
      "cloudwatch:DeleteAlarms",
      "cloudwatch:PutCompositeAlarm",
      "cloudwatch:PutMetricAlarm",
      "cloudwatch:TagResource",
      "cloudwatch:UntagResource",
    ]
    resources = [local.arn.alarms]
  }

  statement {
    sid = "AlarmTopic"
    actions = [
      "sns:CreateTopic",
      "sns:DeleteTopic",
      "sns:SetTopicAttributes",
      "sns:Subscribe",
      "sns:TagResource",
      "sns:UntagResource",
    ]
    resources = [local.arn.topic, local.arn.ticket_topic]
  }

  statement {
    # Subscription actions have no resource-level permissions: "*" is the narrowest resource.
    sid       = "AlarmSubscriptions"
    actions   = ["sns:SetSubscriptionAttributes", "sns:Unsubscribe"]
    resources = ["*"]
  }

  statement {
    # A key's ARN exists only after CreateKey: "*" is the narrowest resource.
    sid       = "CreateKey"
    actions   = ["kms:CreateKey"]
    resources = ["*"]
  }

  statement {
    # Key ids are assigned by KMS: the region's keys are the narrowest scope.
    sid = "AlarmTopicKey"
    actions = [
      "kms:EnableKeyRotation",
      "kms:PutKeyPolicy",
      "kms:ScheduleKeyDeletion",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:UpdateKeyDescription",
    ]
    resources = [local.arn.keys]
  }

  statement {
    # An alias action is authorized on the alias and on its key (ids assigned by KMS).
    sid       = "AlarmTopicKeyAlias"
    actions   = ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"]
    resources = [local.arn.keys, local.arn.key_aliases]
  }

  statement {
    # Whatever else allows it: the pipeline's own roles, their read policy and the boundary are
    # the administrator's (terraform/bootstrap).
    sid    = "NotThePipelineNorTheBoundary"
    effect = "Deny"
    actions = [
      "iam:AttachRolePolicy",
      "iam:CreatePolicyVersion",
      "iam:DeletePolicy",
      "iam:DeletePolicyVersion",
      "iam:DeleteRole",
      "iam:DeleteRolePermissionsBoundary",
      "iam:DeleteRolePolicy",
      "iam:DetachRolePolicy",
      "iam:PutRolePermissionsBoundary",
      "iam:PutRolePolicy",
      "iam:SetDefaultPolicyVersion",
      "iam:TagPolicy",
      "iam:TagRole",
      "iam:UntagPolicy",
      "iam:UntagRole",
      "iam:UpdateAssumeRolePolicy",
      "iam:UpdateRole",
      "iam:UpdateRoleDescription",
    ]
    resources = concat(local.arn.pipeline_roles, [local.arn.boundary, local.arn.read_policy])
  }

  statement {
    # No role of the account loses its boundary through this role: "*" is every role.
    sid       = "NoRoleLosesItsBoundary"
    effect    = "Deny"
    actions   = ["iam:DeleteRolePermissionsBoundary"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "apply" {
  name   = "apply-${var.name}"
  role   = aws_iam_role.apply.id
  policy = data.aws_iam_policy_document.apply.json
}
