terraform {
  required_version = ">= 1.11.0, < 2.0.0"

  required_providers {
    # Written against the Cloudflare provider v5 resource model
    # (cloudflare_zero_trust_tunnel_cloudflared*, cloudflare_dns_record).
    cloudflare = {
      source  = "cloudflare/cloudflare"
      version = ">= 5.11.0, < 6.0.0"
    }
  }
}
