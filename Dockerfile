# Gatehouse: a static binary on a small non-root image.
FROM golang:1.26.8-alpine AS build
WORKDIR /src
ENV GOTOOLCHAIN=local CGO_ENABLED=0
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN go build -trimpath -ldflags "-s -w -X github.com/pocketbase/pocketbase.Version=${VERSION}" -o /out/gatehouse .

FROM alpine:3.22
RUN apk add --no-cache ca-certificates tzdata \
 && adduser -D -H -u 10001 gatehouse \
 && mkdir /pb_data && chown gatehouse:gatehouse /pb_data
COPY --from=build /out/gatehouse /usr/local/bin/gatehouse
USER gatehouse
VOLUME /pb_data
EXPOSE 8090
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s \
  CMD wget -qO- http://127.0.0.1:8090/api/health >/dev/null || exit 1
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["serve", "--http=0.0.0.0:8090", "--dir=/pb_data"]
