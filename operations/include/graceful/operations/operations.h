// One typed function per command, between the front ends (the CLI, the HTTP
// server) and the components. Requests and responses are proto messages
// (proto/graceful/operations.proto, registry.proto); nothing here prints.
// Errors are llvm::Error with an ErrorKind (support/error.h), which decides
// the exit code or HTTP status.
#pragma once

#include "graceful/gates/policy.h"
#include "graceful/operations.pb.h"
#include "graceful/registry.pb.h"
#include "graceful/registry/store.h"

#include <llvm/Support/Error.h>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace graceful::operations {

// Who calls and how: the open store, the actor recorded in the audit log,
// and whether model runs may draw progress on a terminal.
struct Context {
  registry::Store &store;
  std::string actor;
  bool showProgress = false;
};

// ---- gates and promotion --------------------------------------------------

// Evaluates a policy and stores the report (report.report_id set); the
// verdict is in the report, a failed gate is not an error.
llvm::Expected<proto::GateReport> runGates(Context &context, const proto::GateRunRequest &request);

// Moves the alias if the gates pass (or `force`), storing the report either
// way; promoting the version that holds the alias already is a no-op
// (`unchanged`) that records nothing.
llvm::Expected<proto::PromotionResult> promote(Context &context,
                                               const proto::PromoteRequest &request);

llvm::Expected<proto::AliasMove> rollback(Context &context, const proto::RollbackRequest &request);

llvm::Expected<proto::AliasProtection> protectAlias(Context &context,
                                                    const proto::ProtectAliasRequest &request);

// ---- registration ---------------------------------------------------------

llvm::Expected<proto::RegisterResult> registerModel(Context &context,
                                                    const proto::RegisterRequest &request);

// Sets and removes tags of one version (audited as tag); the values are
// checked as parseTags checks them.
llvm::Expected<proto::ModelVersion> tag(Context &context, const proto::TagRequest &request);

// Writes the artifact of NAME@V or NAME@ALIAS to `out`, only once its bytes
// hash to the version's digest.
llvm::Expected<proto::ModelVersion> download(registry::Store &store, const std::string &selector,
                                             const std::string &out);

// Points an alias at a version outside promotion (audited as alias-move);
// a protected alias is refused: only a promotion through its policy moves it.
llvm::Expected<proto::AliasMove> setAlias(Context &context, const std::string &target,
                                          const std::string &alias, const std::string &reason);

// Removes an alias (audited as alias-delete); a protected alias is refused.
llvm::Expected<proto::AliasMove> deleteAlias(Context &context,
                                             const proto::AliasDeleteRequest &request);

// Sets a model's own description and tags (audited as describe and
// model-tag); text is held to the limits of support/limits.h.
llvm::Expected<proto::Model> updateModel(Context &context,
                                         const proto::ModelUpdateRequest &request);

// K=V tags as typed (--tag, the server's tag= parameters), each key
// checked by the registry's rules and each value against kMaxTagValueBytes.
llvm::Expected<std::map<std::string, std::string>> parseTags(const std::vector<std::string> &texts);

// Models, only those carrying every tag in `tags` when given: each tag held
// by the model itself or by one version that holds all the rest.
llvm::Expected<proto::ModelList> listModels(registry::Store &store,
                                            const std::map<std::string, std::string> &tags);

// ---- datasets -------------------------------------------------------------

// Registers a dataset (audited as dataset-register): each .npy file is
// parsed whole before anything is stored, other files are kept as bytes.
// The same name with the same files again is `existing`; other files under
// a registered name are a Conflict.
llvm::Expected<proto::DatasetResult> registerDataset(Context &context,
                                                     const proto::DatasetRegisterRequest &request);

// A registered dataset; a NotFound error naming it when there is none.
llvm::Expected<proto::Dataset> showDataset(registry::Store &store, const std::string &name);

// Rewrites each dataset:NAME/FILE value in the policy's gates to the file's
// place in the artifact store and pins it to the dataset's digest
// (Policy::datasetFiles); an unknown dataset or file is an error naming
// the policy's line.
llvm::Error resolveDatasets(registry::Store &store, gates::Policy &policy);

// ---- read-back ------------------------------------------------------------

// The version an alias points at, with who put it there, when, why and with
// which report; nullopt when the model has no such alias (a typed answer,
// not an error: "no holder yet" is normal for a first promotion).
llvm::Expected<std::optional<proto::ModelVersion>>
aliasHolder(registry::Store &store, const std::string &model, const std::string &alias);

// aliasHolder's answer, with a missing alias as a NotFound error naming
// it (show NAME@ALIAS, the server's GET of an alias).
llvm::Expected<proto::ModelVersion>
requireAliasHolder(registry::Store &store, const std::string &model, const std::string &alias);

// Which version held each alias of `model`; only `alias`'s tenures when
// not empty.
llvm::Expected<proto::AliasHistory> aliasHistory(registry::Store &store, const std::string &model,
                                                 const std::string &alias);

// An audit filter's start, from an event id (events after it: poll with
// the last id seen) or an RFC 3339 time (events at or after it); `what`
// names the option in the error ("--since").
llvm::Error parseAuditSince(const std::string &text, const std::string &what,
                            registry::AuditFilter &filter);

// A stored report by ID, NAME@V (its newest) or NAME@ALIAS (the one the
// holder was put there with); writes the requested report files.
llvm::Expected<proto::StoredGateReport> showReport(registry::Store &store,
                                                   const proto::ReportShowRequest &request);

llvm::Expected<proto::GateReportList> listReports(registry::Store &store, const std::string &model);

// A record's id as typed: "12" or "#12", positive; `what` names the
// record in the error ("token", "webhook").
llvm::Expected<std::int64_t> parseRecordId(const std::string &text, const std::string &what);

// Which webhook deliveries to list, from the CLI's options or the server's
// query: a webhook id (empty: all), a status (pending, delivered, failed,
// cancelled; empty: all) and a count of the newest (empty: all).
llvm::Expected<registry::DeliveryFilter>
deliveryFilter(const std::string &webhook, const std::string &status, const std::string &limit);

// Splits "NAME@ALIAS" or takes "NAME" with a separate alias: rollback and
// history accept both spellings. An alias given twice must agree.
llvm::Expected<std::pair<std::string, std::string>> modelAndAlias(const std::string &target,
                                                                  const std::string &alias);

} // namespace graceful::operations
