# The JVM team's images. `FROM jdk` and `FROM jvm-base` in their Dockerfiles
# are named build contexts that bake points at other targets of this file.
variable "REGISTRY" {
  default = "registry.acme.internal"
}

variable "JAVA_VERSION" {
  default = "21"
}

group "default" {
  targets = ["jdk", "jvm-base", "billing", "search-indexer"]
}

target "_jvm" {
  platforms = ["linux/amd64", "linux/arm64"]
  contexts = {
    jdk = "target:jdk"
  }
}

target "_jvm-app" {
  inherits = ["_jvm"]
  contexts = {
    jvm-base = "target:jvm-base"
  }
}

target "jdk" {
  context = "runtimes/jdk"
  tags    = ["${REGISTRY}/platform/jdk:${JAVA_VERSION}"]
}

target "jvm-base" {
  inherits = ["_jvm"]
  context  = "app-bases/jvm"
  tags = ["${REGISTRY}/platform/app-base-jvm:${JAVA_VERSION}"]
}

target "billing" {
  inherits = ["_jvm-app"]
  context  = "apps/billing"
  tags     = ["${REGISTRY}/apps/billing:latest"]
}

target "search-indexer" {
  inherits = ["_jvm-app"]
  context  = "apps/search-indexer"
  tags     = ["${REGISTRY}/apps/search-indexer:latest"]
}
