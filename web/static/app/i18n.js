// The app's two locales: Vietnamese (default) and English. Both
// dictionaries have the same keys (the browser test checks). Elements
// carry their key in data-i18n (and data-i18n-vars, -title, -ph, -label),
// so relabel() switches a page in place, live media included.

const vi = {
  title: 'Cầu — Hệ thống họp trực tuyến', brand: 'Cầu', tagline: 'Hệ thống họp trực tuyến', otherLang: 'English',
  nav: 'Điều hướng', signOut: 'Đăng xuất', device: 'thiết bị {id}', yes: 'Có', no: 'Không', copy: 'Sao chép',
  refresh: 'Làm mới',
  'nav.meetings': 'Cuộc họp', 'nav.admin': 'Quản trị', 'nav.secretary': 'Thư ký',
  'role.chair': 'Chủ trì', 'role.secretary': 'Thư ký', 'role.operator': 'Kỹ thuật điểm cầu',
  'role.it_admin': 'Quản trị CNTT', 'role.viewer': 'Khách mời',
  'signin.title': 'Đăng nhập', 'signin.people': 'Cán bộ, công chức', 'signin.device': 'Thiết bị điểm cầu',
  'signin.deviceHint': 'Thiết bị đặt tại phòng họp đăng nhập bằng mã truy cập do cán bộ CNTT cấp.',
  'signin.username': 'Tên đăng nhập', 'signin.password': 'Mật khẩu', 'signin.credential': 'Mã truy cập điểm cầu',
  'signin.credentialPh': 'cau_pt_…', 'signin.submit': 'Đăng nhập',
  'state.scheduled': 'Đã lên lịch', 'state.open': 'Đang mở (kiểm tra)', 'state.live': 'Đang họp', 'state.ended': 'Đã kết thúc',
  'meet.heading': 'Cuộc họp của tôi', 'meet.all': 'Tất cả cuộc họp', 'meet.none': 'Chưa có cuộc họp nào.',
  'meet.title': 'Tên cuộc họp', 'meet.time': 'Thời gian', 'meet.chair': 'Điểm cầu chủ trì', 'meet.state': 'Trạng thái',
  'meet.actions': 'Thao tác', 'meet.enter': 'Vào phòng họp', 'meet.manage': 'Quản lý', 'meet.monitor': 'Giám sát chất lượng',
  'admin.points': 'Điểm cầu', 'admin.csvFile': 'Tệp danh sách (CSV)', 'admin.import': 'Nhập danh sách',
  'admin.export': 'Xuất CSV', 'admin.filter': 'Tìm theo mã, tên, cấp…',
  'admin.csvHint': 'Cột bắt buộc: id,name,level,parent; tùy chọn: contact_name,contact_phone,contact_email,enabled. Nhập tất cả hoặc không nhập dòng nào.',
  'admin.count': 'Hiển thị {n}/{total} điểm cầu', 'admin.chooseFile': 'Hãy chọn tệp CSV trước.',
  'admin.imported': 'Đã nhập {n} điểm cầu.', 'admin.importRefused': 'Không nhập được: {n} dòng lỗi, không có thay đổi nào.',
  'admin.row': 'Dòng {row}', 'admin.issue': 'Cấp mã', 'admin.rotate': 'Đổi mã',
  'admin.issued': 'Mã truy cập mới của {name} ({id}):', 'admin.rotated': 'Đã đổi mã của {name} ({id}); các mã cũ hết hiệu lực:',
  'admin.secretOnce': 'Mã chỉ hiện một lần. Hãy chuyển cho kỹ thuật viên điểm cầu qua kênh an toàn.',
  'point.id': 'Mã', 'point.name': 'Tên điểm cầu', 'point.level': 'Cấp', 'point.parent': 'Trực thuộc',
  'point.enabled': 'Hoạt động', 'point.credential': 'Mã truy cập',
  'sched.heading': 'Lên lịch cuộc họp', 'sched.title': 'Tên cuộc họp', 'sched.when': 'Thời gian bắt đầu',
  'sched.duration': 'Thời lượng (phút)', 'sched.chair': 'Điểm cầu chủ trì', 'sched.root': 'Điểm cầu gốc',
  'sched.levels': 'Số cấp', 'sched.levels2': '2 cấp', 'sched.levels3': '3 cấp', 'sched.levels4': '4 cấp',
  'sched.onAir': 'Số điểm phát biểu cùng lúc', 'sched.submit': 'Lên lịch',
  'sched.noPoints': 'Chưa có điểm cầu nào; cán bộ CNTT cần nhập danh sách trước.',
  'manage.scope': 'Chủ trì: {chair} · gốc: {root} · {levels} cấp', 'manage.invited': 'Mời {n} điểm cầu',
  'manage.nowState': 'Trạng thái hiện tại:', 'manage.to.open': 'Mở phòng (kiểm tra)', 'manage.to.live': 'Bắt đầu họp',
  'manage.to.ended': 'Kết thúc họp', 'manage.to.scheduled': 'Lên lịch',
  'roll.heading': 'Điểm danh', 'roll.status': 'Tình trạng', 'roll.reason': 'Lý do vắng', 'roll.reasonPh': 'VD: Mất điện',
  'roll.markAbsent': 'Báo vắng', 'roll.clear': 'Bỏ báo vắng',
  'roll.present': 'Có mặt', 'roll.connected': 'Đã kết nối (chưa có hình/tiếng)', 'roll.left': 'Đã rời', 'roll.absent': 'Vắng (có lý do)',
  'roll.missing': 'Chưa vào',
  'roll.summary': '{n} điểm cầu: {present} có mặt, {connected} đã kết nối, {absent} vắng có lý do, {missing} chưa vào/đã rời',
  'roll.record': 'Biên bản điểm danh: {present} có mặt, {absent} vắng có lý do, {missing} vắng',
  'agenda.heading': 'Chương trình họp', 'agenda.empty': 'Chưa có nội dung nào.', 'agenda.none': 'Chưa công bố chương trình họp.',
  'agenda.itemTitle': 'Nội dung', 'agenda.presenter': 'Người trình bày', 'agenda.duration': 'Thời lượng (phút)',
  'agenda.addItem': 'Thêm nội dung', 'agenda.minutes': ' · {n} phút', 'agenda.pdf': 'Tài liệu PDF',
  'agenda.docTitle': 'Tên tài liệu', 'agenda.upload': 'Tải lên', 'agenda.chooseFile': 'Hãy chọn tệp PDF trước.',
  'agenda.uploaded': 'Đã tải lên “{name}”.', 'agenda.publish': 'Công bố phiên bản mới',
  'agenda.published': 'Đã công bố phiên bản {n}.', 'agenda.versions': 'Các phiên bản đã công bố',
  'agenda.noVersions': 'Chưa công bố phiên bản nào.', 'agenda.version': 'Phiên bản {n}',
  'agenda.seal': 'Đóng dấu cơ quan', 'agenda.sealed': 'Đã đóng dấu phiên bản {n}.', 'agenda.noAccess': ' (không có quyền xem)',
  'sig.valid': 'Chữ ký hợp lệ', 'sig.invalid': 'Chữ ký không hợp lệ', 'sig.unsigned': 'Chưa ký',
  'ver.signed': 'Đã ký', 'ver.unsigned': 'Chưa ký',
  'room.as': 'Bạn tham gia với vai trò', 'room.you': 'Bạn', 'room.chairSite': 'chủ trì', 'room.noVideo': 'Chưa có hình',
  'room.controls': 'Điều khiển', 'room.leave': 'Rời phòng', 'room.micOff': 'Tắt micro', 'room.micOn': 'Bật micro',
  'room.camOff': 'Tắt camera', 'room.camOn': 'Bật camera', 'room.joined': 'Đã vào phòng “{title}”.',
  'room.closed': 'Đã ngắt kết nối ({code} {reason}).', 'room.wsError': 'Lỗi kết nối tới máy chủ.',
  'room.mediaError': 'Lỗi kết nối hình/tiếng: {err}', 'room.clickAudio': 'Nhấn vào trang để bật âm thanh.',
  'room.noMedia': 'Không dùng được camera/micro ({err}). Bạn vẫn xem và nghe được.',
  'floor.heading': 'Điều hành phát biểu', 'floor.onAir': 'Đang phát:', 'floor.spotlight': 'Tiêu điểm:',
  'floor.raise': 'Giơ tay phát biểu', 'floor.lower': 'Hạ tay', 'floor.youOnAir': 'Bạn đang phát biểu.',
  'floor.youQueued': 'Bạn đang chờ phát biểu, thứ tự {n}.', 'floor.youMuted': 'Chủ trì đã tắt tiếng điểm cầu của bạn.',
  'floor.hands': 'Đăng ký phát biểu ({n})', 'floor.noHands': 'Chưa có điểm cầu nào đăng ký.',
  'floor.grant': 'Cho phát biểu', 'floor.revoke': 'Thôi phát biểu', 'floor.speaking': 'Đang phát biểu',
  'floor.sites': 'Các điểm cầu ({n})', 'floor.mute': 'Tắt tiếng', 'floor.unmute': 'Bật tiếng',
  'floor.openMic': 'Mở micro', 'floor.closeMic': 'Đóng micro', 'floor.spot': 'Tiêu điểm', 'floor.unspot': 'Bỏ tiêu điểm',
  'floor.mutedBadge': 'Đã tắt tiếng', 'floor.openBadge': 'Micro mở',
  'grid.heading': 'Lưới điểm cầu', 'grid.open': 'Lưới điểm cầu', 'grid.close': 'Đóng lưới', 'grid.prev': 'Trang trước',
  'grid.next': 'Trang sau', 'grid.page': 'Trang {n}/{pages} ({total} điểm cầu)',
  'check.button': 'Kiểm tra trước họp', 'check.title': 'Kiểm tra trước họp', 'check.selfView': 'Hình của bạn',
  'check.running': 'Đang kiểm tra…', 'check.ready': 'Sẵn sàng: máy chủ nhận tốt hình và tiếng của điểm cầu.',
  'check.notReady': 'Chưa sẵn sàng:', 'check.again': 'Kiểm tra lại',
  'check.no_sample': 'Máy chủ chưa đo được đường truyền; đợi giây lát rồi kiểm tra lại',
  'check.not_publishing': 'Máy chủ chưa nhận được camera/micro của điểm cầu',
  'check.silent': 'Đã lâu không nhận được hình/tiếng', 'check.uplink_loss': 'Chiều gửi lên mất gói nhiều',
  'check.downlink_loss': 'Chiều nhận về mất gói nhiều', 'check.high_rtt': 'Độ trễ khứ hồi quá cao',
  'mon.heading': 'Giám sát chất lượng', 'mon.alerts': 'Cảnh báo', 'mon.waiting': 'Đang chờ số liệu…',
  'mon.summary': '{n} điểm cầu, {online} trực tuyến, {alerting} có cảnh báo',
  'q.point': 'Điểm cầu', 'q.online': 'Kết nối', 'q.on': 'Trực tuyến', 'q.off': 'Mất kết nối', 'q.rtt': 'Trễ khứ hồi',
  'q.lossUp': 'Mất gói (lên)', 'q.lossDown': 'Mất gói (xuống)', 'q.jitterUp': 'Jitter (lên)', 'q.jitterDown': 'Jitter (xuống)',
  'q.rateUp': 'Tốc độ lên', 'q.rateDown': 'Tốc độ xuống', 'q.layers': 'Lớp hình', 'q.alerts': 'Cảnh báo',
  'alert.silent': 'Mất tín hiệu', 'alert.loss': 'Mất gói', 'alert.offline': 'Mất kết nối',
  'alert.raised': 'phát sinh', 'alert.cleared': 'đã hết',
  'reason.left': 'đã rời phòng', 'reason.keepalive timeout': 'mất kết nối quá lâu', 'reason.server shutting down': 'máy chủ đang tắt',
  'reason.replaced by a newer session': 'đã vào phòng từ nơi khác', 'reason.media connection failed': 'kết nối hình/tiếng bị lỗi',
  'err.network': 'Không kết nối được tới máy chủ', 'err.unauthorized': 'Sai thông tin đăng nhập hoặc phiên đã hết',
  'err.token_expired': 'Phiên đăng nhập đã hết hạn, hãy đăng nhập lại', 'err.forbidden': 'Vai trò của bạn không được làm việc này',
  'err.not_invited': 'Bạn không được mời vào cuộc họp này', 'err.not_found': 'Không tìm thấy',
  'err.conflict': 'Không thực hiện được ở trạng thái hiện tại', 'err.meeting_not_open': 'Cuộc họp chưa mở',
  'err.bad_request': 'Yêu cầu không hợp lệ', 'err.invalid': 'Dữ liệu không hợp lệ', 'err.too_large': 'Tệp quá lớn',
  'err.import_refused': 'Tệp CSV có dòng lỗi', 'err.not_pdf': 'Tài liệu họp phải là tệp PDF',
  'err.unsupported_type': 'Loại tệp không được hỗ trợ', 'err.bad_file_name': 'Tên tệp không hợp lệ',
  'err.seal_unavailable': 'Máy chủ chưa cấu hình con dấu cơ quan', 'err.signature_invalid': 'Chữ ký không hợp lệ',
  'err.internal': 'Lỗi máy chủ', 'err.no_floor': 'Phòng này không có điều hành phát biểu',
  'err.unknown_peer': 'Điểm cầu không có trong phòng', 'err.bad_message': 'Yêu cầu không hợp lệ',
};

const en = {
  title: 'Cầu — Online meetings', brand: 'Cầu', tagline: 'Online meetings', otherLang: 'Tiếng Việt',
  nav: 'Navigation', signOut: 'Sign out', device: 'device {id}', yes: 'Yes', no: 'No', copy: 'Copy',
  refresh: 'Refresh',
  'nav.meetings': 'Meetings', 'nav.admin': 'Administration', 'nav.secretary': 'Secretary',
  'role.chair': 'Chair', 'role.secretary': 'Secretary', 'role.operator': 'Bridge-point operator',
  'role.it_admin': 'IT administrator', 'role.viewer': 'Guest',
  'signin.title': 'Sign in', 'signin.people': 'Officials', 'signin.device': 'Bridge-point device',
  'signin.deviceHint': 'A meeting-room device signs in with the credential IT staff issued for it.',
  'signin.username': 'Username', 'signin.password': 'Password', 'signin.credential': 'Bridge-point credential',
  'signin.credentialPh': 'cau_pt_…', 'signin.submit': 'Sign in',
  'state.scheduled': 'Scheduled', 'state.open': 'Open (checks)', 'state.live': 'Live', 'state.ended': 'Ended',
  'meet.heading': 'My meetings', 'meet.all': 'All meetings', 'meet.none': 'No meetings yet.',
  'meet.title': 'Title', 'meet.time': 'Time', 'meet.chair': 'Chair point', 'meet.state': 'State',
  'meet.actions': 'Actions', 'meet.enter': 'Enter the room', 'meet.manage': 'Manage', 'meet.monitor': 'Quality monitor',
  'admin.points': 'Bridge points', 'admin.csvFile': 'Roster file (CSV)', 'admin.import': 'Import roster',
  'admin.export': 'Export CSV', 'admin.filter': 'Search by id, name, level…',
  'admin.csvHint': 'Required columns: id,name,level,parent; optional: contact_name,contact_phone,contact_email,enabled. Every row is imported, or none.',
  'admin.count': 'Showing {n}/{total} bridge points', 'admin.chooseFile': 'Choose a CSV file first.',
  'admin.imported': 'Imported {n} bridge points.', 'admin.importRefused': 'Import refused: {n} bad row(s), nothing changed.',
  'admin.row': 'Row {row}', 'admin.issue': 'Issue', 'admin.rotate': 'Rotate',
  'admin.issued': 'New credential for {name} ({id}):', 'admin.rotated': 'Rotated the credential of {name} ({id}); older ones are revoked:',
  'admin.secretOnce': 'It is shown only once. Hand it to the bridge point’s operator over a safe channel.',
  'point.id': 'Id', 'point.name': 'Bridge point', 'point.level': 'Level', 'point.parent': 'Parent',
  'point.enabled': 'Enabled', 'point.credential': 'Credential',
  'sched.heading': 'Schedule a meeting', 'sched.title': 'Title', 'sched.when': 'Starts at',
  'sched.duration': 'Duration (minutes)', 'sched.chair': 'Chair point', 'sched.root': 'Root point',
  'sched.levels': 'Levels', 'sched.levels2': '2 levels', 'sched.levels3': '3 levels', 'sched.levels4': '4 levels',
  'sched.onAir': 'Sites on air at once', 'sched.submit': 'Schedule',
  'sched.noPoints': 'There are no bridge points yet; IT staff must import the roster first.',
  'manage.scope': 'Chair: {chair} · root: {root} · {levels} levels', 'manage.invited': '{n} bridge points invited',
  'manage.nowState': 'Current state:', 'manage.to.open': 'Open (checks)', 'manage.to.live': 'Start the meeting',
  'manage.to.ended': 'End the meeting', 'manage.to.scheduled': 'Schedule',
  'roll.heading': 'Roll call', 'roll.status': 'Status', 'roll.reason': 'Reason for absence', 'roll.reasonPh': 'e.g. Power cut',
  'roll.markAbsent': 'Mark absent', 'roll.clear': 'Clear absence',
  'roll.present': 'Present', 'roll.connected': 'Connected (no media yet)', 'roll.left': 'Left', 'roll.absent': 'Absent (excused)',
  'roll.missing': 'Not joined',
  'roll.summary': '{n} bridge points: {present} present, {connected} connected, {absent} excused, {missing} not joined or left',
  'roll.record': 'Attendance record: {present} present, {absent} excused, {missing} absent',
  'agenda.heading': 'Agenda', 'agenda.empty': 'No items yet.', 'agenda.none': 'The agenda has not been published yet.',
  'agenda.itemTitle': 'Item', 'agenda.presenter': 'Presenter', 'agenda.duration': 'Duration (minutes)',
  'agenda.addItem': 'Add item', 'agenda.minutes': ' · {n} min', 'agenda.pdf': 'PDF document',
  'agenda.docTitle': 'Document title', 'agenda.upload': 'Upload', 'agenda.chooseFile': 'Choose a PDF file first.',
  'agenda.uploaded': 'Uploaded “{name}”.', 'agenda.publish': 'Publish a new version',
  'agenda.published': 'Published version {n}.', 'agenda.versions': 'Published versions',
  'agenda.noVersions': 'No version published yet.', 'agenda.version': 'Version {n}',
  'agenda.seal': 'Apply the seal', 'agenda.sealed': 'Sealed version {n}.', 'agenda.noAccess': ' (not for you)',
  'sig.valid': 'Signature valid', 'sig.invalid': 'Signature invalid', 'sig.unsigned': 'Unsigned',
  'ver.signed': 'Signed', 'ver.unsigned': 'Unsigned',
  'room.as': 'You take part as', 'room.you': 'You', 'room.chairSite': 'chair', 'room.noVideo': 'No video yet',
  'room.controls': 'Controls', 'room.leave': 'Leave', 'room.micOff': 'Mute mic', 'room.micOn': 'Unmute mic',
  'room.camOff': 'Camera off', 'room.camOn': 'Camera on', 'room.joined': 'Joined “{title}”.',
  'room.closed': 'Disconnected ({code} {reason}).', 'room.wsError': 'Connection to the server failed.',
  'room.mediaError': 'Media connection error: {err}', 'room.clickAudio': 'Click the page to turn on sound.',
  'room.noMedia': 'Camera/microphone unavailable ({err}). You can still watch and listen.',
  'floor.heading': 'Floor', 'floor.onAir': 'On air:', 'floor.spotlight': 'Spotlight:',
  'floor.raise': 'Raise hand to speak', 'floor.lower': 'Lower hand', 'floor.youOnAir': 'You have the floor.',
  'floor.youQueued': 'You are waiting to speak, number {n}.', 'floor.youMuted': 'The chair muted your site.',
  'floor.hands': 'Requests to speak ({n})', 'floor.noHands': 'No site has asked to speak.',
  'floor.grant': 'Give the floor', 'floor.revoke': 'Take the floor back', 'floor.speaking': 'Speaking',
  'floor.sites': 'Sites ({n})', 'floor.mute': 'Mute', 'floor.unmute': 'Unmute',
  'floor.openMic': 'Open mic', 'floor.closeMic': 'Close mic', 'floor.spot': 'Spotlight', 'floor.unspot': 'Clear spotlight',
  'floor.mutedBadge': 'Muted', 'floor.openBadge': 'Mic open',
  'grid.heading': 'Grid of sites', 'grid.open': 'Grid of sites', 'grid.close': 'Close grid', 'grid.prev': 'Previous page',
  'grid.next': 'Next page', 'grid.page': 'Page {n}/{pages} ({total} sites)',
  'check.button': 'Pre-meeting check', 'check.title': 'Pre-meeting check', 'check.selfView': 'Your picture',
  'check.running': 'Checking…', 'check.ready': 'Ready: the server receives this site’s picture and sound well.',
  'check.notReady': 'Not ready:', 'check.again': 'Check again',
  'check.no_sample': 'The server has not measured the link yet; wait a moment and check again',
  'check.not_publishing': 'The server receives no camera or microphone from this site',
  'check.silent': 'No media from this site for a while', 'check.uplink_loss': 'High packet loss sending',
  'check.downlink_loss': 'High packet loss receiving', 'check.high_rtt': 'Round-trip time too high',
  'mon.heading': 'Quality monitor', 'mon.alerts': 'Alerts', 'mon.waiting': 'Waiting for figures…',
  'mon.summary': '{n} bridge points, {online} online, {alerting} with alerts',
  'q.point': 'Bridge point', 'q.online': 'Link', 'q.on': 'Online', 'q.off': 'Offline', 'q.rtt': 'Round trip',
  'q.lossUp': 'Loss (up)', 'q.lossDown': 'Loss (down)', 'q.jitterUp': 'Jitter (up)', 'q.jitterDown': 'Jitter (down)',
  'q.rateUp': 'Bitrate up', 'q.rateDown': 'Bitrate down', 'q.layers': 'Video layers', 'q.alerts': 'Alerts',
  'alert.silent': 'Silent', 'alert.loss': 'Packet loss', 'alert.offline': 'Offline',
  'alert.raised': 'raised', 'alert.cleared': 'cleared',
  'reason.left': 'left', 'reason.keepalive timeout': 'connection lost for too long', 'reason.server shutting down': 'the server is shutting down',
  'reason.replaced by a newer session': 'joined from another place', 'reason.media connection failed': 'the media connection failed',
  'err.network': 'Cannot reach the server', 'err.unauthorized': 'Wrong sign-in details, or the session ended',
  'err.token_expired': 'The session expired; sign in again', 'err.forbidden': 'Your role may not do this',
  'err.not_invited': 'You are not invited to this meeting', 'err.not_found': 'Not found',
  'err.conflict': 'Not possible in the current state', 'err.meeting_not_open': 'The meeting is not open',
  'err.bad_request': 'Bad request', 'err.invalid': 'Invalid data', 'err.too_large': 'The file is too large',
  'err.import_refused': 'The CSV file has bad rows', 'err.not_pdf': 'A meeting document must be a PDF',
  'err.unsupported_type': 'This file type is not accepted', 'err.bad_file_name': 'Bad file name',
  'err.seal_unavailable': 'No organisation seal is configured on the server', 'err.signature_invalid': 'The signature is invalid',
  'err.internal': 'Server error', 'err.no_floor': 'This room has no floor control',
  'err.unknown_peer': 'That site is not in the room', 'err.bad_message': 'Bad request',
};

export const I18N = { vi, en };
const KEY = 'cau.lang';
let current = new URLSearchParams(location.search).get('lang') === 'en' || localStorage.getItem(KEY) === 'en' ? 'en' : 'vi';

export const lang = () => current;
export function setLang(l) {
  current = l === 'en' ? 'en' : 'vi';
  localStorage.setItem(KEY, current);
}

// t translates key, filling {placeholders}; an unknown key shows as itself.
export function t(key, vars) {
  const s = I18N[current][key] ?? I18N.vi[key];
  if (s === undefined) return key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(vars?.[k] ?? ''));
}

// relabel re-translates every marked element under root.
export function relabel(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) {
    if (!el.dataset.i18n) continue;
    el.textContent = t(el.dataset.i18n, el.dataset.i18nVars ? JSON.parse(el.dataset.i18nVars) : undefined);
  }
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-ph]')) el.placeholder = t(el.dataset.i18nPh);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
}

// errorText shows an API error or an error frame {code, message}: the
// translated code, then the server's own message.
export function errorText(err) {
  const label = I18N[current]['err.' + err.code];
  if (!label) return err.message ? `${err.message} [${err.code}]` : String(err.code);
  return err.message && err.message !== 'network error' ? `${label} (${err.message})` : label;
}

const locale = () => (current === 'vi' ? 'vi-VN' : 'en-GB');
export const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString(locale(), { dateStyle: 'short', timeStyle: 'short' }) : '');
export const fmtClock = (iso) => (iso ? new Date(iso).toLocaleTimeString(locale()) : '');
export const fmtMs = (v) => (v === null || v === undefined ? '—' : `${Math.round(v)} ms`);
export const fmtPct = (v) => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)} %`);
export const fmtRate = (v) => (!v ? '0' : v >= 1e6 ? `${(v / 1e6).toFixed(2)} Mbit/s` : `${Math.round(v / 1000)} kbit/s`);
