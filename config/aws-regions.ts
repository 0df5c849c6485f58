/**
 * The AWS regions Terraform's S3 backend accepts: `terraform init` refuses any other (unless
 * `skip_region_validation`, which this program never sets) with "Invalid region value".
 *
 * Source: the region table of github.com/hashicorp/aws-sdk-go-base/v2 v2.0.0-beta.62
 * (endpoints/endpoints_gen.go), which the S3 backend of every Terraform version this project
 * supports (v1.11.4 to v1.13.3, docs/validation.md) vendors and checks against
 * (`validation.SupportedRegion`, internal/backend/remote-state/s3/backend.go). Read 2026-12-02.
 * A region AWS opens later is accepted by a newer Terraform first: add it here when CI's
 * Terraform knows it.
 */
export const S3_BACKEND_REGIONS: Readonly<Record<string, string>> = {
  "af-south-1": "Africa (Cape Town)",
  "ap-east-1": "Asia Pacific (Hong Kong)",
  "ap-northeast-1": "Asia Pacific (Tokyo)",
  "ap-northeast-2": "Asia Pacific (Seoul)",
  "ap-northeast-3": "Asia Pacific (Osaka)",
  "ap-south-1": "Asia Pacific (Mumbai)",
  "ap-south-2": "Asia Pacific (Hyderabad)",
  "ap-southeast-1": "Asia Pacific (Singapore)",
  "ap-southeast-2": "Asia Pacific (Sydney)",
  "ap-southeast-3": "Asia Pacific (Jakarta)",
  "ap-southeast-4": "Asia Pacific (Melbourne)",
  "ap-southeast-5": "Asia Pacific (Malaysia)",
  "ap-southeast-7": "Asia Pacific (Thailand)",
  "ca-central-1": "Canada (Central)",
  "ca-west-1": "Canada West (Calgary)",
  "eu-central-1": "Europe (Frankfurt)",
  "eu-central-2": "Europe (Zurich)",
  "eu-north-1": "Europe (Stockholm)",
  "eu-south-1": "Europe (Milan)",
  "eu-south-2": "Europe (Spain)",
  "eu-west-1": "Europe (Ireland)",
  "eu-west-2": "Europe (London)",
  "eu-west-3": "Europe (Paris)",
  "il-central-1": "Israel (Tel Aviv)",
  "me-central-1": "Middle East (UAE)",
  "me-south-1": "Middle East (Bahrain)",
  "mx-central-1": "Mexico (Central)",
  "sa-east-1": "South America (Sao Paulo)",
  "us-east-1": "US East (N. Virginia)",
  "us-east-2": "US East (Ohio)",
  "us-west-1": "US West (N. California)",
  "us-west-2": "US West (Oregon)",
  "cn-north-1": "China (Beijing)",
  "cn-northwest-1": "China (Ningxia)",
  "us-iso-east-1": "US ISO East",
  "us-iso-west-1": "US ISO WEST",
  "us-isob-east-1": "US ISOB East (Ohio)",
  "eu-isoe-west-1": "EU ISOE West",
  "us-isof-east-1": "US ISOF EAST",
  "us-isof-south-1": "US ISOF SOUTH",
  "us-gov-east-1": "AWS GovCloud (US-East)",
  "us-gov-west-1": "AWS GovCloud (US-West)",
};
