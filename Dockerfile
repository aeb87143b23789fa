# Outboxx container image: `docker build -t outboxx .`
# Runs `node dist/main.js`; mount a config at /etc/outboxx/outboxx.toml.

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the `node` dev dependency would download a second Node
# binary; this image already has Node 24 and nothing else needs a script.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY dev/bundle.mjs ./dev/bundle.mjs
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The state journal's home (a volume in docker-compose.yml), writable by `node`.
RUN mkdir -p /var/lib/outboxx /etc/outboxx && chown node:node /var/lib/outboxx
USER node
EXPOSE 9464
ENTRYPOINT ["node", "dist/main.js"]
CMD ["run", "-c", "/etc/outboxx/outboxx.toml"]
